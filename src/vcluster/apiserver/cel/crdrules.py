"""CRD ``x-kubernetes-validations``: compilation at CRD create/update (the CEL part of
apiextensions validation.go) and enforcement on custom resources (schema/cel/validation.go of
kube 1.32: every rule at every node where it is declared, ``self``/``oldSelf``, transition rules
only with a correlatable old value, ``optionalOldSelf``, ``messageExpression``, ``reason``,
``fieldPath``, and ratcheting of unchanged values).

No cost model: the C++ runtime does not report costs, so the estimated-cost limits of CRD
validation and the per-call/per-object runtime budgets are not enforced."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_str as _s

from ..errors import Cause
from ..gostr import go_quote
from . import env as celenv
from .fieldpath import FieldPathError, valid_field_path
from .prototypes import SchemaTypes
from .schema import decl_type, to_cel

log = logging.getLogger("vcluster.apiserver.cel")

T = cel.Type
_MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
_OLD = "__oldSelfValue"
_HAS_OLD = "__hasOldSelf"
_MISSING: Any = object()


def _go_rule(rule: dict[str, Any]) -> str:
    """``%#v`` of an internal apiextensions.ValidationRule."""

    def ptr(type_name: str, v: object) -> str:
        return f"(*{type_name})(nil)" if v is None else f"(*{type_name})(0xc000000000)"

    return (
        f"apiextensions.ValidationRule{{Rule:{go_quote(_s(rule.get('rule')))}, "
        f"Message:{go_quote(_s(rule.get('message')))}, "
        f"MessageExpression:{go_quote(_s(rule.get('messageExpression')))}, "
        f"Reason:{ptr('apiextensions.FieldValueErrorReason', rule.get('reason'))}, "
        f"FieldPath:{go_quote(_s(rule.get('fieldPath')))}, "
        f"OptionalOldSelf:{ptr('bool', rule.get('optionalOldSelf'))}}}"
    )


def _invalid(path: str, value_text: str, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {value_text}: {detail}", path)


@dataclass
class CompiledRule:
    """One rule ready to evaluate."""

    raw: dict[str, Any]
    program: Any  # cel.Expression
    message_program: Any | None
    uses_old_self: bool
    optional_old_self: bool
    field_path: str
    reason: str | None

    @property
    def error_string(self) -> str:
        """ruleErrorString: the message, else the rule."""
        msg = _s(self.raw.get("message"))
        return msg.strip() if msg else _s(self.raw.get("rule")).strip()


@dataclass
class CompileResult:
    """compileRule's result: the rule, or the details of its errors."""

    rule: CompiledRule | None = None
    rule_error: str = ""
    message_error: str = ""


def _variables(self_type: cel.Type) -> dict[str, cel.Type]:
    return {"self": self_type, "oldSelf": self_type}


_NUMERIC_ORDERING = re.compile(
    r"found no matching overload for '_(<|<=|>|>=)_' applied to '\((int|uint|double), (int|uint|double)\)'"
)


def _only_numeric_ordering(err: celenv.CompileError) -> bool:
    """Every issue is an int/uint/double ordering: cel-go's CrossTypeNumericComparisons (on in
    kube) allows them, the C++ checker does not."""
    issues = [line for line in str(err).splitlines() if line.startswith("ERROR:")]
    return bool(issues) and all(_NUMERIC_ORDERING.search(line) for line in issues)


@dataclass
class _Typing:
    """How one rule's variables are declared: the schema's message types, else maps of dyn."""

    typed: cel.Type | None
    plain: cel.Type

    def check(self, text: str, optional: bool, with_old: bool = True) -> tuple[Any, bool]:
        """Type-checks ``text``; returns (expression, typed). Raises CompileError."""
        candidates = [self.typed, self.plain] if self.typed is not None else [self.plain]
        first: celenv.CompileError | None = None
        for t in candidates:
            assert t is not None
            if optional and with_old:
                env = celenv.new_env({"self": t}, {"oldSelf": "dyn"})
            else:
                env = celenv.new_env(_variables(t) if with_old else {"self": t})
            try:
                return celenv.compile_expr(env, text), t is self.typed
            except celenv.CompileError as e:
                if first is None:
                    first = e
                    if not _only_numeric_ordering(e):
                        raise
        assert first is not None
        raise first


def _typing(schema: dict[str, Any], resource_root: bool, types: SchemaTypes | None) -> _Typing:
    plain = T.Map(T.STRING, T.DYN) if resource_root else decl_type(schema)
    typed = None
    if types is not None:
        try:
            typed = types.decl(schema, resource_root)
        except KeyError:
            typed = None
    return _Typing(typed, plain)


def _returns(expr: Any, typed: bool, want: cel.Type) -> bool:
    t = expr.return_type()
    return t == want or (not typed and t == T.DYN)


def compile_rule(
    schema: dict[str, Any], rule: dict[str, Any], resource_root: bool, types: SchemaTypes | None = None
) -> CompileResult:
    """Compiles ``rule`` for schema node ``schema`` (kube's compileRule): type-checked against the
    schema's declared types, evaluated on plain values."""
    text = _s(rule.get("rule"))
    typing = _typing(schema, resource_root, types)
    optional = rule.get("optionalOldSelf") is True
    try:
        checked, typed = typing.check(text, optional)
    except celenv.CompileError as e:
        return CompileResult(rule_error=f"compilation failed: {e}")
    if not _returns(checked, typed, T.BOOL):
        return CompileResult(rule_error="cel expression must evaluate to a bool")
    try:
        typing.check(text, optional, with_old=False)
        uses_old_self = False
    except celenv.CompileError:
        uses_old_self = True
    plain = typing.plain
    if optional:
        eval_env = celenv.new_env({"self": plain, _OLD: plain, _HAS_OLD: T.BOOL}, bindings=True)
        wrapped = f"cel.bind(oldSelf, {_HAS_OLD} ? optional.of({_OLD}) : optional.none(), (\n{text}\n))"
        program = celenv.compile_expr(eval_env, wrapped)
    else:
        program = celenv.compile_expr(celenv.new_env(_variables(plain)), text)
    message_program = None
    msg_expr = _s(rule.get("messageExpression"))
    if msg_expr:
        try:
            msg_checked, msg_typed = typing.check(msg_expr, False)
        except celenv.CompileError as e:
            return CompileResult(message_error=f"messageExpression compilation failed: {e}")
        if not _returns(msg_checked, msg_typed, T.STRING):
            return CompileResult(message_error="messageExpression must evaluate to a string")
        message_program = celenv.compile_expr(celenv.new_env(_variables(plain)), msg_expr)
    normalized = ""
    fp = _s(rule.get("fieldPath"))
    if fp:
        try:
            normalized = valid_field_path(fp, schema)
        except FieldPathError:
            normalized = ""
    reason = rule.get("reason")
    return CompileResult(
        rule=CompiledRule(
            raw=rule,
            program=program,
            message_program=message_program,
            uses_old_self=uses_old_self,
            optional_old_self=optional,
            field_path=normalized,
            reason=reason if isinstance(reason, str) else None,
        )
    )


def schema_types(schema: dict[str, Any]) -> SchemaTypes | None:
    """The declared types of a CRD schema, None when they cannot be built (rules are then
    type-checked against maps of dyn)."""
    try:
        return SchemaTypes(schema)
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        log.debug("CEL declared types unavailable for a schema: %s", e)
        return None


# --- CRD validation ----------------------------------------------------------------------------


def _children(s: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str, bool]]:
    """(child schema, child path, child stays correlatable) of a node."""
    out: list[tuple[dict[str, Any], str, bool]] = []
    for name, sub in _d(s.get("properties")).items():
        if isinstance(sub, dict):
            out.append((sub, f"{path}.properties[{name}]", True))
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out.append((ap, f"{path}.additionalProperties", True))
    items = s.get("items")
    if isinstance(items, dict):
        out.append((items, f"{path}.items", s.get("x-kubernetes-list-type") == "map"))
    for i, sub in enumerate(s.get("allOf") or []):
        if isinstance(sub, dict):
            out.append((sub, f"{path}.allOf[{i}]", True))
    return out


def _fieldpath_causes(s: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        fp = _s(_d(rule).get("fieldPath"))
        if fp.strip() and "\n" not in fp and "\r" not in fp:
            try:
                valid_field_path(fp, s)
            except FieldPathError as e:
                rp = f"{path}.x-kubernetes-validations[{i}].fieldPath"
                causes.append(_invalid(rp, go_quote(fp), f"fieldPath must be a valid path: {e}"))
    return causes


def schema_errors(schema: dict[str, Any], path: str) -> list[Cause]:
    """The causes for rules of the CRD schema ``schema`` that do not compile, as CRD validation
    reports them under ``path`` (``spec.validation.openAPIV3Schema...``)."""
    if not _has_rules(schema):
        return []
    return _schema_errors(schema, path, True, None, schema_types(schema), schema)


def _schema_errors(
    schema: dict[str, Any],
    path: str,
    resource_root: bool,
    uncorrelatable: str | None,
    types: SchemaTypes | None,
    type_node: dict[str, Any],
) -> list[Cause]:
    causes = _fieldpath_causes(schema, path)
    if not causes:
        for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
            r = _d(rule)
            if not _s(r.get("rule")).strip():
                continue
            rp = f"{path}.x-kubernetes-validations[{i}]"
            res = compile_rule(type_node, r, resource_root, types)
            if res.rule_error:
                causes.append(_invalid(rp + ".rule", _go_rule(r), res.rule_error))
            if res.message_error:
                causes.append(_invalid(rp + ".messageExpression", _go_rule(r), res.message_error))
            compiled = res.rule
            if compiled is None:
                continue
            if compiled.uses_old_self and uncorrelatable is not None:
                causes.append(
                    _invalid(
                        rp + ".rule",
                        go_quote(_s(r.get("rule"))),
                        "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                        + uncorrelatable,
                    )
                )
            if not compiled.uses_old_self and r.get("optionalOldSelf") is True:
                causes.append(
                    _invalid(rp + ".optionalOldSelf", "true", "may not be set if rule does not use oldSelf")
                )
    for sub, sub_path, correlatable in _children(schema, path):
        unc = uncorrelatable if uncorrelatable is not None or correlatable else sub_path
        if ".allOf[" in sub_path[len(path) :]:  # allOf rules apply to this node, typed as it
            causes.extend(_schema_errors(sub, sub_path, resource_root, unc, types, type_node))
        else:
            embedded = sub.get("x-kubernetes-embedded-resource") is True
            causes.extend(_schema_errors(sub, sub_path, embedded, unc, types, sub))
    return causes


# --- enforcement -------------------------------------------------------------------------------


def _has_rules(s: dict[str, Any]) -> bool:
    if s.get("x-kubernetes-validations"):
        return True
    return any(_has_rules(sub) for sub, _, _ in _children(s, ""))


def _type_text(s: dict[str, Any]) -> str:
    return go_quote(_s(s.get("type")))


def _deep_equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@dataclass
class Node:
    """The compiled rules of one schema node and the nodes below it that have rules."""

    schema: dict[str, Any]
    resource_root: bool
    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # rules that no longer compile
    properties: dict[str, Node] = field(default_factory=dict)
    additional: Node | None = None
    items: Node | None = None
    all_of: list[Node] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        s: dict[str, Any],
        resource_root: bool,
        types: SchemaTypes | None,
        type_node: dict[str, Any] | None = None,
    ) -> Node | None:
        if not _has_rules(s):
            return None
        node = cls(type_node or s, resource_root)
        for rule in s.get("x-kubernetes-validations") or []:
            r = _d(rule)
            if not _s(r.get("rule")).strip():
                continue
            res = compile_rule(type_node or s, r, resource_root, types)
            if res.rule is not None:
                node.rules.append(res.rule)
            else:
                node.errors.append(res.rule_error or res.message_error)
        if type_node is not None:  # an allOf branch: only its own rules, typed as the node
            return node
        for name, sub in _d(s.get("properties")).items():
            if isinstance(sub, dict):
                child = cls.build(sub, sub.get("x-kubernetes-embedded-resource") is True, types)
                if child is not None:
                    node.properties[name] = child
        ap, items = s.get("additionalProperties"), s.get("items")
        if isinstance(ap, dict):
            node.additional = cls.build(ap, ap.get("x-kubernetes-embedded-resource") is True, types)
        if isinstance(items, dict):
            node.items = cls.build(items, items.get("x-kubernetes-embedded-resource") is True, types)
        for sub in s.get("allOf") or []:
            if isinstance(sub, dict):
                child = cls.build(sub, resource_root, types, type_node=s)
                if child is not None:
                    node.all_of.append(child)
        return node


@dataclass
class _Walk:
    causes: list[Cause] = field(default_factory=list)


class Validator:
    """The CEL validator of one CRD version's schema (built once per CRD change)."""

    def __init__(self, schema: dict[str, Any] | None) -> None:
        ok = isinstance(schema, dict) and _has_rules(schema)
        self.root = Node.build(schema, True, schema_types(schema)) if ok and schema is not None else None

    def validate(self, obj: Any, old: Any = None) -> list[Cause]:
        """The causes of every failing rule for ``obj`` (``old`` on update)."""
        if self.root is None:
            return []
        out: list[Cause] = []
        _validate(self.root, "", obj, old if old is not None else _MISSING, False, out)
        return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _validate(node: Node, path: str, obj: Any, old: Any, parent_ratchet: bool, out: list[Cause]) -> None:
    if obj is None:
        return
    correlated = old is not _MISSING and old is not None
    ratchet = _deep_equal(obj, old) if correlated else parent_ratchet
    _run_rules(node, path, obj, old if correlated else None, ratchet, out)
    for sub in node.all_of:
        _run_rules(sub, path, obj, old if correlated else None, ratchet, out)
    if isinstance(obj, dict):
        map_type = node.schema.get("x-kubernetes-map-type")
        old_map = old if correlated and isinstance(old, dict) and map_type in (None, "granular") else None
        for k, v in obj.items():
            sub_node = node.properties.get(k) if node.properties else None
            if sub_node is None and node.additional is not None and not node.schema.get("properties"):
                sub_node = node.additional
                child_path = f"{path}[{k}]"
            else:
                child_path = _join(path, k)
            if sub_node is not None:
                old_v = old_map.get(k, _MISSING) if old_map is not None else _MISSING
                _validate(sub_node, child_path, v, old_v, ratchet, out)
    elif isinstance(obj, list) and node.items is not None:
        old_items = _correlate(node.schema, old if correlated else None)
        for i, item in enumerate(obj):
            old_item = old_items(item) if old_items is not None else _MISSING
            _validate(node.items, f"{path}[{i}]", item, old_item, ratchet, out)


def _correlate(s: dict[str, Any], old: Any) -> Callable[[Any], Any] | None:
    """For a list-type map list, a lookup of the old item with the same keys."""
    if s.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return None
    keys = [k for k in s.get("x-kubernetes-list-map-keys") or [] if isinstance(k, str)]
    index: dict[tuple[str, ...], Any] = {}
    for it in old:
        if isinstance(it, dict):
            index.setdefault(tuple(repr(it.get(k)) for k in keys), it)

    def lookup(item: Any) -> Any:
        if not isinstance(item, dict):
            return _MISSING
        return index.get(tuple(repr(item.get(k)) for k in keys), _MISSING)

    return lookup


def _run_rules(node: Node, path: str, obj: Any, old: Any, ratchet: bool, out: list[Cause]) -> None:
    if not node.rules and not node.errors:
        return
    type_text = _type_text(node.schema)
    fld = path or "<nil>"
    for err in node.errors:
        out.append(_invalid(fld, type_text, f"rule compile error: {err}"))
    self_v = to_cel(obj, node.schema, node.resource_root)
    old_v: Any = _MISSING
    for rule in node.rules:
        if rule.uses_old_self and old is None and not rule.optional_old_self:
            continue
        if rule.uses_old_self and old_v is _MISSING:
            old_v = to_cel(old, node.schema, node.resource_root) if old is not None else None
        if rule.optional_old_self:
            data = {"self": self_v, _HAS_OLD: old is not None, _OLD: old_v if old is not None else self_v}
        elif rule.uses_old_self:
            data = {"self": self_v, "oldSelf": old_v}
        else:
            data = {"self": self_v}
        try:
            result = celenv.evaluate(rule.program, data)
        except celenv.EvalError as e:
            msg = str(e)
            if msg.startswith("no such overload"):
                detail = (
                    f"'{msg}': call arguments did not match a supported operator, function or macro "
                    f"signature for rule: {rule.error_string}"
                )
            else:
                detail = f"{msg} evaluating rule: {rule.error_string}"
            out.append(_invalid(fld, type_text, detail))
            continue
        if result is True:
            continue
        if not rule.uses_old_self and ratchet:
            continue  # kube: a warning for an unchanged value (CRDValidationRatcheting)
        rule_path = _join(path, rule.field_path) if rule.field_path else fld
        detail = _message(rule, self_v, old_v if old is not None else None)
        out.append(_for_reason(rule_path, type_text, detail, rule.reason))


def _message(rule: CompiledRule, self_v: Any, old_v: Any) -> str:
    if rule.message_program is not None:
        data = {"self": self_v} if old_v is None or old_v is _MISSING else {"self": self_v, "oldSelf": old_v}
        try:
            text = celenv.evaluate(rule.message_program, data)
        except celenv.EvalError:
            text = None
        if isinstance(text, str):
            trimmed = text.strip()
            if trimmed and len(trimmed.encode()) <= _MAX_MESSAGE_BYTES and "\n" not in trimmed:
                return trimmed
    msg = _s(rule.raw.get("message"))
    return msg.strip() if msg else f"failed rule: {rule.error_string}"


def _for_reason(path: str, type_text: str, detail: str, reason: str | None) -> Cause:
    if reason == "FieldValueForbidden":
        return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)
    if reason == "FieldValueRequired":
        return Cause("FieldValueRequired", f"Required value: {detail}", path)
    if reason == "FieldValueDuplicate":
        return Cause("FieldValueDuplicate", f"Duplicate value: {type_text}", path)
    return _invalid(path, type_text, detail)
