"""Label and field selectors with the grammar, semantics and error messages of apimachinery 1.32.

* `LabelSelector.parse` ports k8s.io/apimachinery/pkg/labels/selector.go (lexer and parser
  included, so whitespace, keyword and error handling match byte for byte);
  `LabelSelector.from_api` ports metav1.LabelSelectorAsSelector.
* `FieldSelector.parse` ports k8s.io/apimachinery/pkg/fields/selector.go (ParseSelector with
  `\\,` `\\=` `\\\\` escapes) followed by the apiserver's field-label conversion, which rejects
  unknown fields with `field label not supported: <field>`.
* `object_fields` renders an object's selectable fields like the registries' ToSelectableFields.

Parsed selectors are immutable; parsing is memoised, so repeated list/watch calls with the same
query string cost a dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from .errors import bad_request
from .gostr import go_quote as _go_quote
from .validation import validate_label_value, validate_qualified_name

__all__ = ["FieldSelector", "LabelSelector", "object_fields"]


# ---------------------------------------------------------------------------------------------
# Go formatting helpers


def _go_json_strings(values: list[str]) -> str:
    """encoding/json of a []string (nil -> null; HTML-safe escapes as Go)."""
    if not values:
        return "null"
    text = orjson.dumps(values).decode()
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _aggregate(msgs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): duplicates dropped, several joined as [a, b]."""
    seen: list[str] = []
    for m in msgs:
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): ASCII digits, optional sign, int64 range."""
    if _INT64_RE.fullmatch(s) is None:
        return None
    v = int(s)
    if v < _INT64_MIN or v > _INT64_MAX:
        return None
    return v


# ---------------------------------------------------------------------------------------------
# Label selector: requirements
# selection.Operator values
OP_EQUALS = "="
OP_DOUBLE_EQUALS = "=="
OP_NOT_EQUALS = "!="
OP_IN = "in"
OP_NOT_IN = "notin"
OP_EXISTS = "exists"
OP_DOES_NOT_EXIST = "!"
OP_GT = "gt"
OP_LT = "lt"

_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"

# Matching classes (several operators share one semantics).
_M_IN = 0  # in, =, ==
_M_NOT_IN = 1  # notin, !=
_M_EXISTS = 2
_M_NOT_EXISTS = 3
_M_GT = 4
_M_LT = 5
_MATCH_CLASS = {
    OP_IN: _M_IN,
    OP_EQUALS: _M_IN,
    OP_DOUBLE_EQUALS: _M_IN,
    OP_NOT_IN: _M_NOT_IN,
    OP_NOT_EQUALS: _M_NOT_IN,
    OP_EXISTS: _M_EXISTS,
    OP_DOES_NOT_EXIST: _M_NOT_EXISTS,
    OP_GT: _M_GT,
    OP_LT: _M_LT,
}


class Requirement(NamedTuple):
    key: str
    operator: str  # one of the OP_* strings (selection.Operator)
    values: tuple[str, ...]
    mclass: int
    members: frozenset[str] | tuple[str, ...]
    number: int | None  # the parsed value of gt / lt

    def __str__(self) -> str:
        op = self.operator
        if op == OP_DOES_NOT_EXIST:
            return "!" + self.key
        if op == OP_EXISTS:
            return self.key
        vals = self.values
        joined = vals[0] if len(vals) == 1 else ",".join(sorted(vals))
        if op == OP_IN:
            return f"{self.key} in ({joined})"
        if op == OP_NOT_IN:
            return f"{self.key} notin ({joined})"
        if op == OP_GT:
            return f"{self.key}>{joined}"
        if op == OP_LT:
            return f"{self.key}<{joined}"
        return f"{self.key}{op}{joined}"  # =, ==, !=


def _new_requirement(key: str, op: str, vals: list[str], path: str | None) -> Requirement:
    """labels.NewRequirement; raises ValueError with the aggregated field errors.

    `path` is the field.Path the errors hang under (None = no path, as labels.Parse uses)."""
    errs: list[str] = []
    key_path = "key" if path is None else path + ".key"
    value_path = "values" if path is None else path + ".values"
    key_errs = validate_qualified_name(key)
    if key_errs:
        errs.append(f"{key_path}: Invalid value: {_go_quote(key)}: {'; '.join(key_errs)}")
    number: int | None = None
    if op in (OP_IN, OP_NOT_IN):
        if not vals:
            errs.append(
                f"{value_path}: Invalid value: {_go_json_strings(vals)}: "
                "for 'in', 'notin' operators, values set can't be empty"
            )
    elif op in (OP_EQUALS, OP_DOUBLE_EQUALS, OP_NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                f"{value_path}: Invalid value: {_go_json_strings(vals)}: "
                "exact-match compatibility requires one single value"
            )
    elif op in (OP_EXISTS, OP_DOES_NOT_EXIST):
        if vals:
            errs.append(
                f"{value_path}: Invalid value: {_go_json_strings(vals)}: "
                "values set must be empty for exists and does not exist"
            )
    elif op in (OP_GT, OP_LT):
        if len(vals) != 1:
            errs.append(
                f"{value_path}: Invalid value: {_go_json_strings(vals)}: "
                "for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for i, v in enumerate(vals):
            n = _parse_int64(v)
            if n is None:
                errs.append(
                    f"{value_path}[{i}]: Invalid value: {_go_quote(v)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
            elif number is None:
                number = n
    else:  # pragma: no cover - callers map operators first
        errs.append(f"{path + '.operator' if path else 'operator'}: Unsupported value: {_go_quote(op)}")
    for i, v in enumerate(vals):
        v_errs = validate_label_value(v)
        if v_errs:
            errs.append(f"{value_path}[{i}][{key}]: Invalid value: {_go_quote(v)}: {'; '.join(v_errs)}")
    if errs:
        raise ValueError(_aggregate(errs))
    values = tuple(vals)
    members: frozenset[str] | tuple[str, ...] = frozenset(values) if len(values) > 4 else values
    return Requirement(key, op, values, _MATCH_CLASS[op], members, number)


# ---------------------------------------------------------------------------------------------
# Label selector: lexer and parser (labels/selector.go)
_T_ERROR = 0
_T_EOS = 1
_T_CLOSED_PAR = 2
_T_COMMA = 3
_T_NOT = 4  # DoesNotExistToken
_T_DOUBLE_EQUALS = 5
_T_EQUALS = 6
_T_GT = 7
_T_ID = 8
_T_IN = 9
_T_LT = 10
_T_NOT_EQUALS = 11
_T_NOT_IN = 12
_T_OPEN_PAR = 13

_STRING2TOKEN = {
    ")": _T_CLOSED_PAR,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DOUBLE_EQUALS,
    "=": _T_EQUALS,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NOT_EQUALS,
    "notin": _T_NOT_IN,
    "(": _T_OPEN_PAR,
}
_WHITESPACE = frozenset(" \t\r\n")
_SPECIAL = frozenset("=!(),><")
_STOP = _WHITESPACE | _SPECIAL | {"\0"}


def _scan(s: str) -> list[tuple[int, str]]:
    """Lexer.Lex until EndOfStringToken. Like Go, a NUL character reads as the end of input."""
    items: list[tuple[int, str]] = []
    n = len(s)
    pos = 0
    while True:
        # skipWhiteSpaces(read())
        while pos < n and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= n or s[pos] == "\0":
            items.append((_T_EOS, ""))
            return items
        if s[pos] in _SPECIAL:  # scanSpecialSymbol
            buf = ""
            last_tok = _T_ERROR
            last_lit = ""
            while pos < n:
                ch = s[pos]
                pos += 1
                if ch == "\0":
                    break
                if ch in _SPECIAL:
                    buf += ch
                    tok = _STRING2TOKEN.get(buf)
                    if tok is not None:
                        last_tok, last_lit = tok, buf
                    elif last_tok != _T_ERROR:
                        pos -= 1
                        break
                else:
                    pos -= 1
                    break
            if last_tok == _T_ERROR:  # unreachable: every special character is a token
                items.append((_T_ERROR, f"error expected: keyword found '{buf}'"))
            else:
                items.append((last_tok, last_lit))
        else:  # scanIDOrKeyword
            start = pos
            while pos < n and s[pos] not in _STOP:
                pos += 1
            lit = s[start:pos]
            if pos < n and s[pos] == "\0":
                pos += 1  # read() consumed it and ended the identifier
            items.append((_STRING2TOKEN.get(lit, _T_ID), lit))


class _ParseError(Exception):
    pass


class _Parser:
    __slots__ = ("items", "pos")

    def __init__(self, text: str) -> None:
        self.items = _scan(text)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        if values and (tok in (_T_IN, _T_NOT_IN)):
            tok = _T_ID
        return tok, lit

    def consume(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.lookahead(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_T_ID, _T_NOT):
                try:
                    reqs.append(self.parse_requirement())
                except (_ParseError, ValueError) as e:
                    raise _ParseError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.consume()
                if t == _T_EOS:
                    return reqs
                if t == _T_COMMA:
                    t2, l2 = self.lookahead()
                    if t2 != _T_ID and t2 != _T_NOT:
                        raise _ParseError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise _ParseError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _T_EOS:
                return reqs
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, op = self.parse_key_and_infer_operator()
        if op in (OP_EXISTS, OP_DOES_NOT_EXIST):
            return _new_requirement(key, op, [], None)
        op = self.parse_operator()
        if op in (OP_IN, OP_NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return _new_requirement(key, op, sorted(values), None)

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume()
        if tok == _T_NOT:
            op = OP_DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _T_ID:
            raise _ParseError(f"found '{lit}', expected: identifier")
        errs = validate_qualified_name(lit)
        if errs:
            raise _ParseError(f"<nil>: Invalid value: {_go_quote(lit)}: {'; '.join(errs)}")
        t, _ = self.lookahead()
        if (t in (_T_EOS, _T_COMMA)) and op != OP_DOES_NOT_EXIST:
            op = OP_EXISTS
        return lit, op

    def parse_operator(self) -> str:
        tok, lit = self.consume(False)
        op = _TOKEN_OPERATOR.get(tok)
        if op is None:
            raise _ParseError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return op

    def parse_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _T_OPEN_PAR:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_T_ID, _T_COMMA):
            s = self.parse_identifiers_list()
            if self.consume()[0] != _T_CLOSED_PAR:  # unreachable: the list stops at ')'
                raise _ParseError(f"found '{lit}', expected: ')'")
            return s
        if tok == _T_CLOSED_PAR:
            self.consume()
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _T_ID:
                s.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _T_COMMA:
                    continue
                if tok2 == _T_CLOSED_PAR:
                    return s
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _T_COMMA:
                if not s:
                    s.add("")  # "(,"
                tok2, _ = self.lookahead()
                if tok2 == _T_CLOSED_PAR:
                    s.add("")  # ",)"
                    return s
                if tok2 == _T_COMMA:
                    self.consume()
                    s.add("")  # ",,"
            else:
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_T_EOS, _T_COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _T_ID:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


_TOKEN_OPERATOR = {
    _T_IN: OP_IN,
    _T_EQUALS: OP_EQUALS,
    _T_DOUBLE_EQUALS: OP_DOUBLE_EQUALS,
    _T_GT: OP_GT,
    _T_LT: OP_LT,
    _T_NOT_IN: OP_NOT_IN,
    _T_NOT_EQUALS: OP_NOT_EQUALS,
}

_API_OPERATORS = {
    "In": OP_IN,
    "NotIn": OP_NOT_IN,
    "Exists": OP_EXISTS,
    "DoesNotExist": OP_DOES_NOT_EXIST,
}

_MISSING: Any = object()
_NO_LABELS: dict[str, str] = {}


class LabelSelector:
    """A parsed label selector (labels.Selector): immutable, hashable, with a fast `matches`."""

    __slots__ = ("_nothing", "_reqs")

    _reqs: tuple[Requirement, ...]
    _nothing: bool

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        object.__setattr__(self, "_reqs", tuple(sorted(requirements, key=lambda r: r.key)))
        object.__setattr__(self, "_nothing", nothing)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("LabelSelector is immutable")

    @classmethod
    def everything(cls) -> LabelSelector:
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> LabelSelector:
        return _NOTHING

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """labels.Parse; a syntax or validation error raises StatusError 400 BadRequest whose
        message is the upstream parse error."""
        if not text:
            return _EVERYTHING
        result = (
            _parse_label_selector(text) if len(text) <= _CACHE_MAX_TEXT else _parse_label_selector_raw(text)
        )
        if isinstance(result, str):
            raise bad_request(result)
        return result

    @classmethod
    def from_api(cls, sel: Mapping[str, Any] | None) -> LabelSelector:
        """metav1.LabelSelectorAsSelector: None -> Nothing, {} -> Everything; an invalid selector
        raises ValueError with the upstream error text."""
        if sel is None:
            return _NOTHING
        if not isinstance(sel, Mapping):
            raise ValueError(f"label selector must be an object, got {type(sel).__name__}")
        match_labels = sel.get("matchLabels") or {}
        match_exprs = sel.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping):
            raise ValueError("matchLabels must be a map of string to string")
        if not isinstance(match_exprs, list):
            raise ValueError("matchExpressions must be a list")
        if len(match_labels) + len(match_exprs) == 0:
            return _EVERYTHING
        reqs: list[Requirement] = []
        for k, v in match_labels.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("matchLabels must be a map of string to string")
            reqs.append(_new_requirement(k, OP_EQUALS, [v], None))
        for expr in match_exprs:
            if not isinstance(expr, Mapping):
                raise ValueError("matchExpressions items must be objects")
            api_op = expr.get("operator") or ""
            op = _API_OPERATORS.get(api_op) if isinstance(api_op, str) else None
            if op is None:
                shown = api_op if isinstance(api_op, str) else str(api_op)
                raise ValueError(f"{_go_quote(shown)} is not a valid label selector operator")
            key = expr.get("key") or ""
            values = expr.get("values") or []
            if not isinstance(key, str):
                raise ValueError("matchExpressions key must be a string")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError("matchExpressions values must be a list of strings")
            reqs.append(_new_requirement(key, op, list(values), None))
        return cls(reqs)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        if labels is None:
            labels = _NO_LABELS
        for r in self._reqs:
            v = labels.get(r.key, _MISSING)
            m = r.mclass
            if m == _M_IN:
                if v is _MISSING or v not in r.members:
                    return False
            elif m == _M_NOT_IN:
                if v is not _MISSING and v in r.members:
                    return False
            elif m == _M_EXISTS:
                if v is _MISSING:
                    return False
            elif m == _M_NOT_EXISTS:
                if v is not _MISSING:
                    return False
            else:
                if v is _MISSING or not isinstance(v, str) or r.number is None:
                    return False
                n = _parse_int64(v)
                if n is None:
                    return False
                if m == _M_GT:
                    if not n > r.number:
                        return False
                elif not n < r.number:
                    return False
        return True

    def empty(self) -> bool:
        """True when the selector does not restrict anything (Nothing is not empty)."""
        return not self._reqs and not self._nothing

    def is_nothing(self) -> bool:
        return self._nothing

    def requirements(self) -> tuple[Requirement, ...]:
        return self._reqs

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (=, ==, or `in` with one value), else None."""
        for r in self._reqs:
            if r.key == key:
                if r.mclass == _M_IN and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        if self._nothing:
            return ""
        return ",".join(str(r) for r in self._reqs)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector.nothing()"
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and [(r.key, r.operator, r.values) for r in self._reqs] == [
            (r.key, r.operator, r.values) for r in other._reqs
        ]

    def __hash__(self) -> int:
        return hash((self._nothing, tuple((r.key, r.operator, r.values) for r in self._reqs)))


_EVERYTHING = LabelSelector()
_NOTHING = LabelSelector(nothing=True)


def _parse_label_selector_raw(text: str) -> LabelSelector | str:
    """The selector, or the error message (returned, not raised, so that errors are cached too)."""
    try:
        reqs = _Parser(text).parse()
    except _ParseError as e:
        return str(e)
    if not reqs:
        return _EVERYTHING
    return LabelSelector(reqs)


_parse_label_selector = lru_cache(maxsize=2048)(_parse_label_selector_raw)


# ---------------------------------------------------------------------------------------------
# Field selector (fields/selector.go)
def _split_terms(selector: str) -> list[str]:
    """splitTerms: split at commas not escaped by a backslash (escapes are kept)."""
    if "\\" not in selector:
        return selector.split(",")
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, c in enumerate(selector):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """splitTerm: the first occurrence of !=, == or = (in that preference at each position)."""
    for i in range(len(term)):
        c = term[i]
        if c == "!":
            if term.startswith("!=", i):
                return term[:i], "!=", term[i + 2 :]
        elif c == "=":
            if term.startswith("==", i):
                return term[:i], "==", term[i + 2 :]
            return term[:i], "=", term[i + 1 :]
    return None


def _unescape_value(s: str) -> str:
    """UnescapeValue; raises _ParseError with the upstream messages."""
    if "\\" not in s and "," not in s and "=" not in s:
        return s
    out: list[str] = []
    in_slash = False
    for c in s:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise _ParseError(f"invalid field selector: invalid escape sequence: \\{c}")
            in_slash = False
            continue
        if c == "\\":
            in_slash = True
        elif c == "," or c == "=":
            raise _ParseError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise _ParseError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _escape_value(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _parse_field_terms_raw(selector: str) -> tuple[tuple[str, str, str], ...] | str:
    """fields.ParseSelector: the (field, op, value) terms in upstream order, or the error."""
    parts = sorted(_split_terms(selector))
    terms: list[tuple[str, str, str]] = []
    try:
        for part in parts:
            if not part:
                continue
            split = _split_term(part)
            if split is None:
                return f"invalid selector: '{selector}'; can't understand '{part}'"
            lhs, op, rhs = split
            terms.append((lhs, "!=" if op == "!=" else "=", _unescape_value(rhs)))
    except _ParseError as e:
        return str(e)
    return tuple(terms)


_parse_field_terms = lru_cache(maxsize=2048)(_parse_field_terms_raw)
# Longer query strings are parsed without being remembered (the caches hold their keys).
_CACHE_MAX_TEXT = 4096

_GENERIC_FIELDS = ("metadata.name", "metadata.namespace")


class FieldSelector:
    """A parsed field selector: an AND of `field=value` / `field!=value` terms."""

    __slots__ = ("_terms",)

    _terms: tuple[tuple[str, str, str], ...]

    def __init__(self, terms: Iterable[tuple[str, str, str]] = ()) -> None:
        object.__setattr__(self, "_terms", tuple(terms))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FieldSelector is immutable")

    @classmethod
    def parse(
        cls, text: str, allowed: frozenset[str] | set[str], *, generic_message: bool = False
    ) -> FieldSelector:
        """fields.ParseSelector plus the field-label conversion of the apiserver's list handler.

        Bad syntax raises StatusError 400 with the upstream text; a field outside `allowed` raises
        400 `field label not supported: <field>` (kinds with their own field-label conversion).
        `generic_message=True` gives instead the text of runtime.DefaultMetaV1FieldSelectorConversion,
        used upstream for kinds that register no conversion (configmaps, ...):
        `"<field>" is not a known field selector: only "metadata.name", "metadata.namespace"`.
        """
        if not text:
            return _FIELDS_EVERYTHING
        terms = _parse_field_terms(text) if len(text) <= _CACHE_MAX_TEXT else _parse_field_terms_raw(text)
        if isinstance(terms, str):
            raise bad_request(terms)
        for f, _op, _v in terms:
            if f not in allowed:
                if generic_message:
                    raise bad_request(
                        f"{_go_quote(f)} is not a known field selector: only "
                        f"{_go_quote(_GENERIC_FIELDS[0])}, {_go_quote(_GENERIC_FIELDS[1])}"
                    )
                raise bad_request(f"field label not supported: {f}")
        if not terms:
            return _FIELDS_EVERYTHING
        return cls(terms)

    def matches(self, fields: Mapping[str, str]) -> bool:
        for f, op, v in self._terms:
            if op == "=":
                if fields.get(f, "") != v:
                    return False
            elif fields.get(f, "") == v:
                return False
        return True

    def requirements(self) -> list[tuple[str, str, str]]:
        """(field, op, value) with op "=" (also for "==") or "!=", in upstream (sorted) order."""
        return list(self._terms)

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal (first `=` term on it), else None."""
        for f, op, v in self._terms:
            if f == field and op == "=":
                return v
        return None

    def empty(self) -> bool:
        return not self._terms

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{_escape_value(v)}" for f, op, v in self._terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """The same AND of terms, in any order: the upstream order sorts the raw term texts, so
        `a==,a=!` and the `a=!,a=` it prints as keep their terms in different orders."""
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return sorted(self._terms) == sorted(other._terms)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._terms)))


_FIELDS_EVERYTHING = FieldSelector()


# ---------------------------------------------------------------------------------------------
# Selectable fields of objects (pkg/registry/*/strategy.go ToSelectableFields)
def _render(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        return str(v)


def _dig(obj: Any, parts: tuple[str, ...]) -> Any:
    for p in parts:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _path_getter(path: str) -> Callable[[dict], str]:
    parts = tuple(path.split("."))

    def get(obj: dict) -> str:
        return _render(_dig(obj, parts))

    return get


def _bool_getter(path: str) -> Callable[[dict], str]:
    parts = tuple(path.split("."))

    def get(obj: dict) -> str:
        return "true" if _dig(obj, parts) is True else "false"

    return get


def _int_getter(path: str) -> Callable[[dict], str]:
    """Go int32 fields: missing -> "0"."""
    parts = tuple(path.split("."))

    def get(obj: dict) -> str:
        v = _dig(obj, parts)
        if v is None or isinstance(v, bool):
            return "0"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return _render(v)

    return get


def _pod_ip(obj: dict) -> str:
    """The first of status.podIPs (the internal Pod keeps only podIPs; v1 podIP converts into it)."""
    status = obj.get("status")
    if not isinstance(status, dict):
        return ""
    ips = status.get("podIPs")
    if isinstance(ips, list) and ips:
        first = ips[0]
        return _render(first.get("ip")) if isinstance(first, dict) else ""
    return _render(status.get("podIP"))


def _event_source(obj: dict) -> str:
    """core Event: source.component, else reportingComponent (the internal ReportingController)."""
    src = _render(_dig(obj, ("source", "component")))
    return src or _render(obj.get("reportingComponent"))


def _empty(obj: dict) -> str:
    return ""


def _metadata_name(obj: dict) -> str:
    return _render(_dig(obj, ("metadata", "name")))


_SPECIAL_GETTERS: dict[str, Callable[[dict], str]] = {
    "status.podIP": _pod_ip,
    # Accepted by the Pod field-label conversion but absent from ToSelectableFields: always "".
    "status.podIPs": _empty,
    "spec.hostNetwork": _bool_getter("spec.hostNetwork"),
    "spec.unschedulable": _bool_getter("spec.unschedulable"),
    "status.replicas": _int_getter("status.replicas"),
    # Job: the selectable "status.successful" is status.succeeded.
    "status.successful": _int_getter("status.succeeded"),
    "source": _event_source,
    # Namespace: the legacy "name" field (a bug upstream keeps for compatibility).
    "name": _metadata_name,
}
_GETTERS: dict[str, Callable[[dict], str]] = dict(_SPECIAL_GETTERS)


def _getter(field: str) -> Callable[[dict], str]:
    g = _GETTERS.get(field)
    if g is None:
        g = _GETTERS[field] = _path_getter(field)
    return g


def object_fields(obj: dict, extra: tuple[str, ...]) -> dict[str, str]:
    """metadata.name, metadata.namespace and each `extra` selectable field of `obj`, rendered as
    kube-apiserver does: missing strings "", bools "true"/"false", counters as decimal strings
    ("0" when unset), `status.podIP` from status.podIPs[0], event `source` = source.component or
    else reportingComponent, Job `status.successful` = status.succeeded."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        name = meta.get("name")
        ns = meta.get("namespace")
        out = {
            "metadata.name": name if isinstance(name, str) else _render(name),
            "metadata.namespace": ns if isinstance(ns, str) else _render(ns),
        }
    else:
        out = {"metadata.name": "", "metadata.namespace": ""}
    for f in extra:
        out[f] = _getter(f)(obj)
    return out
