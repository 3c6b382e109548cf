"""CustomResourceDefinitions (apiextensions.k8s.io/v1): validation, structural schemas, pruning,
defaulting, printer columns and the resource type of a served custom resource, as pure functions.

Ported from Kubernetes 1.32 (k8s.io/apiextensions-apiserver and k8s.io/kube-openapi):

- ``validate_crd`` / ``validate_crd_update``: pkg/apis/apiextensions/validation/validation.go, run on
  the *internal* form of the CRD exactly as the server does. The v1 → internal conversion
  (pkg/apis/apiextensions/v1/conversion.go) moves per-version ``schema``, ``subresources``,
  ``additionalPrinterColumns`` and ``selectableFields`` to the top level when every version has the
  same value, so a single-version CRD reports schema errors under ``spec.validation.openAPIV3Schema``
  and printer-column errors under ``spec.additionalPrinterColumns[i]``, like the real server.
- structural schema checks: pkg/apiserver/schema/{convert,validation,complete}.go; default checks:
  pkg/apiserver/schema/defaulting/validation.go.
- ``CRDSchema.validate``: pkg/apiserver/validation/{validation,formats}.go on top of kube-openapi's
  pkg/validation/validate (type, schemaProps, string, format, number, slice, enum and object
  validators in that order, with their messages), plus the embedded ObjectMeta/TypeMeta checks of
  pkg/apiserver/schema/objectmeta, the list-type invariants of pkg/apiserver/schema/listtype and
  the scale checks of pkg/registry/customresource/validator.go.
- ``CRDSchema.validate_update``: the same with CRDValidationRatcheting (unchanged invalid values
  are not reported on update).
- ``CRDSchema.prune``: pkg/apiserver/schema/pruning (with unknown-field paths),
  defaulting.PruneNonNullableNullsWithoutDefaults and the ObjectMeta round trip of
  pkg/apiserver/schema/objectmeta/coerce.go; ``CRDSchema.default``: schema/defaulting/algorithm.go.
- ``printer_columns``: pkg/registry/customresource/tableconvertor and the client-go JSONPath subset
  it relies on (fields, ``['quoted']`` keys, ``*``, ``..``, indexes, slices, unions, filters).

Differences from the Go implementation (deliberate or unavoidable):

- Go iterates maps in random order; this module uses the order of the schema (properties) or of
  the object, so the *set* of causes matches upstream but their order may differ where upstream's
  own order is random. Structural-schema causes are sorted like upstream (by their full text).
- ``pattern`` uses Go RE2 syntax. Invalid patterns are rejected with Go's messages. Valid ones run
  on RE2 itself when the ``google-re2`` package is installed; otherwise they are translated to
  Python ``re`` (which backtracks, so a hostile pattern can be slow): ``\\d \\s \\w`` are
  ASCII-only as in RE2, ``$`` matches only at the end of the text unless ``(?m)``, ``\\z`` is
  supported, octal escapes and ``\\x{...}`` are rewritten, mid-pattern flags ``(?i)`` are scoped to
  their group, and constructs RE2 rejects (look-around, back-references, possessive repeats,
  ``\\Z``, repeat counts over 1000) are rejected with Go's messages. RE2 features Python cannot
  express (Unicode classes ``\\pL``, ``[[:^alpha:]]``, ungreedy ``(?U)``) are accepted by
  ``validate_crd`` but the pattern is then not enforced. ``(?i)`` case folding, ``\\b`` and the
  negated classes ``\\D \\S \\W`` inside brackets are Unicode-aware in Python.
- ``x-kubernetes-validations`` (CEL) rules are compiled and enforced by the ``cel`` package
  (``cel.crdrules``: its docstring lists where it departs from kube, e.g. no cost limits).
- Conversion webhooks are not supported: a CRD with ``strategy: Webhook`` gets a Forbidden cause.
- Values shown in causes are formatted like Go's ``field.Error`` (``%q`` for strings, ``%v`` for
  numbers, ``%#v`` for maps and slices); Go structs (``spec.versions``, a whole schema) are rendered
  in the same ``%#v`` style but cannot match upstream byte for byte (pointer addresses).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

from .cel import lazy_module
from .errors import Cause, StatusError
from .gostr import go_quote as _go_quote
from .printers import column_definitions as _builtin_column_definitions
from .printers import human_duration
from .resources import (
    ALL_VERBS,
    DNS1123_SUBDOMAIN,
    PATH_SEGMENT,
    STATUS_VERBS,
    ResourceType,
    Subresource,
)
from .validation import is_dns1035_label, is_dns1123_subdomain, validate_object_meta

_celrules = lazy_module("vcluster.apiserver.cel.crdrules")  # loaded by the first CRD rule

__all__ = [
    "CRD_RESOURCE_TYPE",
    "CRDSchema",
    "apply_scale_to_custom_resource",
    "compile_go_regex",
    "crd_resource_type",
    "crd_version",
    "default_crd",
    "established_status",
    "prepare_crd_for_create",
    "prepare_crd_for_update",
    "printer_columns",
    "scale_from_custom_resource",
    "served_versions",
    "validate_crd",
    "validate_crd_update",
]

JSON = Any

CRD_GROUP = "apiextensions.k8s.io"

#: The registry entry of the CustomResourceDefinition kind itself (1.32 discovery: short names
#: crd, crds; category api-extensions; status subresource). Etcd key:
#: /registry/apiextensions.k8s.io/customresourcedefinitions/<name>.
CRD_RESOURCE_TYPE = ResourceType(
    CRD_GROUP,
    "v1",
    "customresourcedefinitions",
    "customresourcedefinition",
    "CustomResourceDefinition",
    False,
    ("crd", "crds"),
    ("api-extensions",),
    subresources=(Subresource("status", STATUS_VERBS),),
    has_generation=True,
)

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# =============================================================================================
# Go value formatting (fmt %v, %#v, %q; encoding/json), so causes read like field.Error bodies
# =============================================================================================


def _is_int(v: object) -> bool:
    """A JSON integer as Go's unstructured decoding keeps it (int64)."""
    return isinstance(v, int) and not isinstance(v, bool) and _INT64_MIN <= v <= _INT64_MAX


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _go_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |f| and the position of the decimal point."""
    t = Decimal(repr(abs(f))).as_tuple()
    digits = "".join(map(str, t.digits))
    dp = len(digits) + int(t.exponent)
    stripped = digits.rstrip("0") or "0"
    lead = len(stripped) - len(stripped.lstrip("0"))
    return stripped.lstrip("0") or "0", dp - lead


def _go_float(f: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)``: what ``%v`` prints for a float64."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    digits, dp = _go_digits(f)
    exp = dp - 1
    # %e when the exponent is < -4 or >= the precision, which is 6 for the shortest form
    if exp < -4 or exp >= 6:
        return sign + _go_exp(digits, exp)
    return sign + _go_fixed(digits, dp)


def _go_exp(digits: str, exp: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    es = "-" if exp < 0 else "+"
    return f"{mant}e{es}{abs(exp):02d}"


def _go_fixed(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _go_json_float(f: float) -> str:
    """encoding/json's float64 text (``1`` for 1.0, ``1e+21``, ``1e-7``)."""
    if not math.isfinite(f):
        return "null"
    if f == 0:
        return "0" if math.copysign(1.0, f) > 0 else "-0"
    sign = "-" if f < 0 else ""
    digits, dp = _go_digits(f)
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        s = _go_exp(digits, dp - 1)
        # encoding/json trims e-07 to e-7
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return sign + s
    return sign + _go_fixed(digits, dp)


def _go_v(v: JSON) -> str:
    """``%v`` of a decoded JSON value (``[a b]``, ``map[k:v]``, ``<nil>``)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_int(v):
        return str(v)
    if _is_number(v):
        return _go_float(_as_float(v))
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v, key=str)) + "]"
    return str(v)


def _go_sharp_v(v: JSON, top: bool = True) -> str:
    """``%#v`` of a decoded JSON value (``map[string]interface {}{"a":1}``)."""
    if v is None:
        return "interface {}(nil)" if not top else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_int(v):
        return str(v)
    if _is_number(v):
        return _go_float(_as_float(v))
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(x, False) for x in v) + "}"
    if isinstance(v, dict):
        inner = ", ".join(f"{_go_quote(str(k))}:{_go_sharp_v(v[k], False)}" for k in sorted(v, key=str))
        return "map[string]interface {}{" + inner + "}"
    return repr(v)


def _go_json(v: JSON) -> str:
    """``json.Marshal`` of a decoded JSON value: sorted keys, HTML-safe escaping, Go floats."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_int(v):
        return str(v)
    if _is_number(v):
        return _go_json_float(_as_float(v))
    if isinstance(v, str):
        return _go_json_string(v)
    if isinstance(v, list):
        return "[" + ",".join(_go_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_go_json_string(str(k))}:{_go_json(v[k])}" for k in sorted(v, key=str)) + "}"
    return _go_json_string(str(v))


_JSON_SPECIAL = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _go_json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _JSON_SPECIAL:
            out.append(_JSON_SPECIAL[ch])
        elif c < 0x20 or ch in "<>&" or c in (0x2028, 0x2029):
            out.append(f"\\u{c:04x}")
        elif 0xD800 <= c <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _body_value(v: JSON) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value."""
    if v is None:
        return '"null"'
    if isinstance(v, bool) or _is_number(v):
        return _go_v(v)
    if isinstance(v, str):
        return _go_quote(v)
    return _go_sharp_v(v)


def _copy(v: JSON) -> JSON:
    """Deep copy of a JSON value (no copy.deepcopy: scalars are shared, containers rebuilt)."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _deep_equal(a: JSON, b: JSON) -> bool:
    """reflect.DeepEqual on decoded JSON: int64 and float64 are different types."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return _scalar_key(a) == _scalar_key(b)


def _scalar_key(v: JSON) -> tuple[str, Any]:
    if v is None:
        return ("nil", None)
    if isinstance(v, bool):
        return ("bool", v)
    if _is_int(v):
        return ("int", v)
    if _is_number(v):
        return ("float", _as_float(v))
    if isinstance(v, str):
        return ("string", v)
    return ("other", id(v))


# =============================================================================================
# Causes (field.Error with the apimachinery types) and field paths
# =============================================================================================


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _invalid(path: str, value: JSON, detail: str) -> Cause:
    msg = "Invalid value: " + _body_value(value)
    return Cause("FieldValueInvalid", msg + (": " + detail if detail else ""), path)


def _type_invalid(path: str, value: JSON, detail: str) -> Cause:
    msg = "Invalid value: " + _body_value(value)
    return Cause("FieldValueTypeInvalid", msg + (": " + detail if detail else ""), path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (": " + detail if detail else ""), path)


def _forbidden(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueForbidden", "Forbidden" + (": " + detail if detail else ""), path)


def _not_supported(path: str, value: JSON, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(_go_quote(s) for s in supported)
    detail = "supported values: " + quoted if quoted else ""
    msg = "Unsupported value: " + _body_value(value)
    return Cause("FieldValueNotSupported", msg + (": " + detail if detail else ""), path)


def _duplicate(path: str, value: JSON) -> Cause:
    return Cause("FieldValueDuplicate", "Duplicate value: " + _body_value(value), path)


def _too_long(path: str, max_len: int) -> Cause:
    if max_len >= 0:
        detail = f"may not be more than {max_len} {'byte' if max_len == 1 else 'bytes'}"
    else:
        detail = "value is too long"
    return Cause("FieldValueTooLong", "Too long: " + detail, path)


def _too_many(path: str, actual: int, max_items: int) -> Cause:
    if max_items >= 0:
        detail = f"must have at most {max_items} {'item' if max_items == 1 else 'items'}"
    else:
        detail = "has too many items"
    head = f"Too many: {actual}: " if actual >= 0 else "Too many: "
    return Cause("FieldValueTooMany", head + detail, path)


def _error_text(c: Cause) -> str:
    """``field.Error.Error()``: upstream sorts structural-schema errors by this text."""
    return f"{c.field}: {c.message}"


# =============================================================================================
# Go RE2 patterns on Python re
# =============================================================================================


class _GoRegexError(Exception):
    """The pattern is not valid Go RE2 syntax; the message is Go's (after "error parsing regexp: ")."""


class _RegexUnsupported(Exception):
    """Valid RE2 that Python's re cannot express; the pattern is accepted but not enforced."""


_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_PERL_IN_CLASS = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_", "D": "\\D", "S": "\\S", "W": "\\W"}
_PERL_OUTSIDE = {
    "d": "[0-9]",
    "s": "[\\t\\n\\f\\r ]",
    "w": "[0-9A-Za-z_]",
    "D": "[^0-9]",
    "S": "[^\\t\\n\\f\\r ]",
    "W": "[^0-9A-Za-z_]",
}
_SIMPLE_ESCAPES = {"a": "\\x07", "f": "\\f", "t": "\\t", "n": "\\n", "r": "\\r", "v": "\\x0b"}
_REPEAT_RE = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS_RE = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])")
_GROUP_NAME_RE = re.compile(r"\(\?P?<([A-Za-z0-9_]+)>")


def _char_escape(c: int) -> str:
    if c < 0x100:
        return f"\\x{c:02x}"
    if c < 0x10000:
        return f"\\u{c:04x}"
    return f"\\U{c:08x}"


class _RegexTranslator:
    """Translates one Go RE2 pattern to an equivalent Python pattern (see module docstring)."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        # per open group: (extra ')' to emit for mid-group flags, multiline state outside the group)
        self.groups: list[tuple[int, bool]] = []
        self.extra = 0
        self.multiline = False
        self.names: set[str] = set()
        self.can_repeat = False  # is there an operand for a following repetition operator
        self.last_repeat: str | None = None

    def error(self, msg: str) -> _GoRegexError:
        return _GoRegexError(msg)

    def translate(self) -> str:
        p = self.p
        n = len(p)
        while self.i < n:
            c = p[self.i]
            if c == "\\":
                self._escape()
            elif c == "[":
                self._char_class()
            elif c == "(":
                self._open_group()
            elif c == ")":
                if not self.groups:
                    raise self.error(f"unexpected ): `{p}`")
                extra, ml = self.groups.pop()
                self.out.append(")" * (extra + 1))
                self.multiline = ml
                self.i += 1
                self._operand()
            elif c in "*+?":
                self._repeat(c, 1)
            elif c == "{":
                m = _REPEAT_RE.match(p, self.i)
                if m is None:
                    self.out.append("\\{")
                    self.i += 1
                    self._operand()
                else:
                    lo = int(m.group(1))
                    hi = m.group(3)
                    if lo > 1000 or (hi is not None and hi != "" and (int(hi) > 1000 or int(hi) < lo)):
                        raise self.error(f"invalid repeat count: `{m.group(0)}`")
                    self._repeat(m.group(0), len(m.group(0)))
            elif c == "|":
                self.out.append("|")
                self.i += 1
                self.can_repeat = False
                self.last_repeat = None
            elif c == "$":
                self.out.append("$" if self.multiline else "\\Z")
                self.i += 1
                self._operand()
            elif c == "^":
                self.out.append("^")
                self.i += 1
                self._operand()
            else:
                self.out.append(re.escape(c) if c in "}]#&~- \t\n\r\v\f" else c)
                self.i += 1
                self._operand()
        if self.groups:
            raise self.error(f"missing closing ): `{p}`")
        self.out.append(")" * self.extra)
        return "".join(self.out)

    def _operand(self) -> None:
        self.can_repeat = True
        self.last_repeat = None

    def _repeat(self, op: str, length: int) -> None:
        p = self.p
        if self.last_repeat is not None:
            raise self.error(f"invalid nested repetition operator: `{self.last_repeat}{op}`")
        if not self.can_repeat:
            raise self.error(f"missing argument to repetition operator: `{op}`")
        self.i += length
        lazy = self.i < len(p) and p[self.i] == "?"
        if lazy:
            self.i += 1
        self.out.append(op + ("?" if lazy else ""))
        self.last_repeat = op + ("?" if lazy else "")

    def _open_group(self) -> None:
        p = self.p
        rest = p[self.i :]
        if rest.startswith("(?"):
            m = _GROUP_NAME_RE.match(p, self.i)
            if m is not None:
                name = m.group(1)
                if name in self.names:
                    raise self.error(f"duplicate capture group name: `{name}`")
                self.names.add(name)
                if name[0].isdigit():
                    raise _RegexUnsupported("group name starting with a digit")
                self.out.append(f"(?P<{name}>")
                self.groups.append((0, self.multiline))
                self.i = m.end()
                self.can_repeat = False
                self.last_repeat = None
                return
            m = _FLAGS_RE.match(p, self.i)
            if m is None or (m.group(1) == "" and m.group(2) is None and m.group(3) == ")"):
                raise self.error(f"invalid or unsupported Perl syntax: `{rest[:3]}`")
            on, off, end = m.group(1), m.group(2) or "", m.group(3)
            if m.group(2) is not None and off == "":
                raise self.error(f"invalid or unsupported Perl syntax: `{m.group(0)}`")
            if "U" in on or "U" in off:
                raise _RegexUnsupported("ungreedy flag")
            ml = ("m" in on) or (self.multiline and "m" not in off)
            flags = on + ("-" + off if off else "")
            self.i = m.end()
            if end == ":":
                self.groups.append((0, self.multiline))
                self.multiline = ml
                self.out.append(f"(?{flags}:" if flags else "(?:")
                self.can_repeat = False
                self.last_repeat = None
                return
            # (?flags): applies to the rest of the enclosing group
            if flags:
                self.out.append(f"(?{flags}:")
                if self.groups:
                    extra, outer = self.groups[-1]
                    self.groups[-1] = (extra + 1, outer)
                else:
                    self.extra += 1
            self.multiline = ml
            self.can_repeat = False
            self.last_repeat = None
            return
        self.out.append("(")
        self.groups.append((0, self.multiline))
        self.i += 1
        self.can_repeat = False
        self.last_repeat = None

    def _escape_body(self, in_class: bool) -> str:
        """Consumes one escape sequence starting at a backslash and returns its Python form."""
        p = self.p
        if self.i + 1 >= len(p):
            raise self.error("trailing backslash at end of expression: ``")
        c = p[self.i + 1]
        if c in "01234567":
            j = self.i + 1
            k = j
            while k < len(p) and k - j < 3 and p[k] in "01234567":
                k += 1
            if c != "0" and k - j == 1:
                raise self.error(f"invalid escape sequence: `\\{c}`")
            self.i = k
            return _char_escape(int(p[j:k], 8))
        if c in "89":
            raise self.error(f"invalid escape sequence: `\\{c}`")
        if c == "x":
            j = self.i + 2
            if j < len(p) and p[j] == "{":
                end = p.find("}", j)
                hexs = p[j + 1 : end] if end != -1 else ""
                if end == -1 or not hexs or not all(h in "0123456789abcdefABCDEF" for h in hexs):
                    raise self.error(
                        f"invalid escape sequence: `{p[self.i : (end + 1 if end != -1 else len(p))]}`"
                    )
                code = int(hexs, 16)
                if code > 0x10FFFF:
                    raise self.error(f"invalid escape sequence: `{p[self.i : end + 1]}`")
                self.i = end + 1
                return _char_escape(code)
            hexs = p[j : j + 2]
            if len(hexs) < 2 or not all(h in "0123456789abcdefABCDEF" for h in hexs):
                raise self.error(f"invalid escape sequence: `{p[self.i : j + 2]}`")
            self.i = j + 2
            return _char_escape(int(hexs, 16))
        self.i += 2
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c]
        if c in "dswDSW":
            return _PERL_IN_CLASS[c] if in_class else _PERL_OUTSIDE[c]
        if c in "pP":
            raise _RegexUnsupported("unicode class")
        if not in_class and c in "bBA":
            return "\\" + c
        if not in_class and c == "z":
            return "\\Z"
        if (c.isascii() and c.isalnum()) or c == "_":
            raise self.error(f"invalid escape sequence: `\\{c}`")
        return re.escape(c)

    def _escape(self) -> None:
        p = self.p
        if p.startswith("\\Q", self.i):
            end = p.find("\\E", self.i + 2)
            lit = p[self.i + 2 :] if end == -1 else p[self.i + 2 : end]
            self.i = len(p) if end == -1 else end + 2
            if lit:
                self.out.append("(?:" + re.escape(lit) + ")")
                self._operand()
            return
        is_assertion = p[self.i + 1 : self.i + 2] in ("b", "B", "A", "z")
        self.out.append(self._escape_body(False))
        if is_assertion:
            self.can_repeat = True  # Go allows \b* (it is an empty-width operand)
            self.last_repeat = None
        else:
            self._operand()

    def _char_class(self) -> None:
        p = self.p
        start = self.i
        self.i += 1
        parts = ["["]
        if self.i < len(p) and p[self.i] == "^":
            parts.append("^")
            self.i += 1
        first = True
        closed = False
        prev_char: int | None = None
        while self.i < len(p):
            c = p[self.i]
            if c == "]" and not first:
                closed = True
                self.i += 1
                break
            first = False
            if c == "[" and p.startswith("[:", self.i):
                end = p.find(":]", self.i + 2)
                if end != -1:
                    name = p[self.i + 2 : end]
                    if name.startswith("^"):
                        raise _RegexUnsupported("negated POSIX class")
                    if name not in _POSIX_CLASSES:
                        raise self.error(f"invalid character class range: `{p[self.i : end + 2]}`")
                    parts.append(_POSIX_CLASSES[name])
                    self.i = end + 2
                    prev_char = None
                    continue
            if c == "\\":
                esc_start = self.i
                body = self._escape_body(True)
                parts.append(body)
                esc = p[esc_start : self.i]
                prev_char = _single_char(esc, body)
                continue
            if c == "-" and prev_char is not None and self.i + 1 < len(p) and p[self.i + 1] != "]":
                # a range: check the order like Go does
                nxt = p[self.i + 1]
                if nxt == "\\":
                    save = self.i
                    self.i += 1
                    body = self._escape_body(True)
                    hi = _single_char(p[save + 1 : self.i], body)
                    if hi is None:
                        raise self.error(f"invalid character class range: `{p[save - 1 : self.i]}`")
                    if hi < prev_char:
                        raise self.error(f"invalid character class range: `{p[save - 1 : self.i]}`")
                    parts.append("-" + body)
                else:
                    hi = ord(nxt)
                    if hi < prev_char:
                        raise self.error(f"invalid character class range: `{chr(prev_char)}-{nxt}`")
                    parts.append("-" + _char_escape(hi))
                    self.i += 2
                prev_char = None
                continue
            parts.append(_char_escape(ord(c)) if c in "[]&~|-^\\" or not c.isprintable() else c)
            prev_char = ord(c)
            self.i += 1
        if not closed:
            raise self.error(f"missing closing ]: `{p[start:]}`")
        parts.append("]")
        self.out.append("".join(parts))
        self._operand()


def _single_char(esc: str, body: str) -> int | None:
    """The code point an escape inside a class denotes (None for classes like \\d)."""
    if len(esc) == 2 and not esc[1].isalnum():
        return ord(esc[1])
    if body.startswith("\\x") and len(body) == 4:
        return int(body[2:], 16)
    if body.startswith("\\u") and len(body) == 6:
        return int(body[2:], 16)
    if body.startswith("\\U") and len(body) == 10:
        return int(body[2:], 16)
    return {"\\f": 12, "\\t": 9, "\\n": 10, "\\r": 13}.get(body)


_PY_ERROR_MAP = (
    ("missing ), unterminated subpattern", "missing closing ): `{p}`"),
    ("unbalanced parenthesis", "unexpected ): `{p}`"),
    ("unterminated character set", "missing closing ]: `{p}`"),
    ("nothing to repeat", "missing argument to repetition operator: `{p}`"),
    ("multiple repeat", "invalid nested repetition operator: `{p}`"),
    ("bad character range", "invalid character class range: `{p}`"),
)

try:  # the google-re2 binding, when installed: RE2 itself (linear time, exact semantics)
    import re2 as _re2  # type: ignore[import-not-found]

    _RE2_OPTIONS = _re2.Options()
    _RE2_OPTIONS.log_errors = False
except ImportError:  # pragma: no cover - depends on the environment
    _re2 = None

_REGEX_CACHE: dict[str, tuple[Any, str | None]] = {}


def compile_go_regex(pattern: str) -> tuple[Any, str | None]:
    """Compiles a Go RE2 pattern for ``.search(text)``: (compiled, None); (None, go_error) when Go
    rejects it (the error reads like Go's regexp.Compile); (None, None) when the pattern is valid
    RE2 that cannot be enforced here. With the ``google-re2`` package installed, accepted patterns
    run on RE2 itself (linear time, Unicode classes); otherwise on the Python translation, which
    backtracks (a hostile pattern such as ``^(a+)+$`` can then be slow)."""
    hit = _REGEX_CACHE.get(pattern)
    if hit is not None:
        return hit
    result = _compile_translated(pattern)
    if _re2 is not None and result[1] is None:
        # if re2 rejects a construct the translation accepts, the translation is kept
        with contextlib.suppress(Exception):
            result = (_re2.compile(pattern, _RE2_OPTIONS), None)
    if len(_REGEX_CACHE) > 4096:
        _REGEX_CACHE.clear()
    _REGEX_CACHE[pattern] = result
    return result


def _compile_translated(pattern: str) -> tuple[re.Pattern[str] | None, str | None]:
    result: tuple[re.Pattern[str] | None, str | None]
    try:
        py = _RegexTranslator(pattern).translate()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = (re.compile(py), None)
    except _GoRegexError as e:
        result = (None, f"error parsing regexp: {e}")
    except _RegexUnsupported:
        result = (None, None)
    except (re.error, RecursionError, OverflowError, ValueError) as e:
        text = str(e)
        for needle, fmt in _PY_ERROR_MAP:
            if needle in text:
                result = (None, "error parsing regexp: " + fmt.format(p=pattern))
                break
        else:
            result = (None, None)
    return result


# =============================================================================================
# String formats (kube-openapi strfmt.Default, restricted to the formats CRDs support)
# =============================================================================================

_UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\Z", re.I)
_UUID3_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}\Z", re.I)
_UUID4_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}\Z", re.I)
_UUID5_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}\Z", re.I)
_HEXCOLOR_RE = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z")
_RGB_PART = r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*"
_RGBCOLOR_RE = re.compile(r"^rgb\(" + _RGB_PART + "," + _RGB_PART + "," + _RGB_PART + r"\)\Z", re.A)
_SSN_RE = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}\Z", re.A)
_BASE64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})\Z")
_CREDITCARD_RE = re.compile(
    r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
    r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})\Z",
    re.A,
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\Z", re.A)
_DATETIME_TIME_RE = re.compile(
    r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z", re.A
)
_GO_DURATION_RE = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+\Z")
_DURATION_MATCH_RE = re.compile(r"((\d+)\s*([A-Za-zµ]+))", re.A)
_DURATION_UNITS = (
    ("ns", "nanoseconds"),
    ("us", "µs", "microseconds"),
    ("ms", "milliseconds"),
    ("s", "seconds"),
    ("m", "minutes"),
    ("h", "hours"),
    ("d", "days"),
    ("w", "weeks"),
)
_HOSTNAME_SHAPE_RE = re.compile(
    r"^([a0$]((-?[a0$]{0,62})?)|([a0$](([a0$-]{0,61}[a0$])?)(\.)){1,}(a){2,63})\Z"
)
_EMAIL_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_EMAIL_QUOTED_RE = re.compile(r'^"([^"\\\r\n]|\\.)*"\Z')
_EMAIL_DOMAIN_RE = re.compile(
    r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|\[[^\[\]\\]*\])\Z"
)
_MAC_COLON_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2})*\Z")
_MAC_DOT_RE = re.compile(r"^[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4})*\Z")
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]<>\"%")


def _is_date(s: str) -> bool:
    m = _DATE_RE.match(s)
    if m is None:
        return False
    try:
        date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    return True


def _is_datetime(s: str) -> bool:
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _DATETIME_TIME_RE.match(parts[1])
    if m is None:
        return False
    return m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _is_duration(s: str) -> bool:
    if s == "0" or _GO_DURATION_RE.match(s):
        return True
    for m in _DURATION_MATCH_RE.finditer(s):
        unit = m.group(3).strip().lower()
        for variants in _DURATION_UNITS:
            last = len(variants) - 1
            for i, variant in enumerate(variants):
                if (i == last and unit.startswith(variant)) or variant.lower() == unit:
                    return True
    return False


def _parse_ip_sloppy(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """k8s.io/utils/net.ParseIPSloppy: net.ParseIP that tolerates leading zeros in IPv4."""
    if "%" in s or not s:
        return None
    if ":" not in s:
        parts = s.split(".")
        if len(parts) != 4 or not all(
            p.isdigit() and p.isascii() and len(p) <= 3 and int(p) <= 255 for p in parts
        ):
            return None
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    try:
        return ipaddress.IPv6Address(s)
    except ValueError:
        # IPv6 with an embedded IPv4 that has leading zeros
        head, _, tail = s.rpartition(":")
        v4 = _parse_ip_sloppy(tail) if "." in tail else None
        if v4 is None:
            return None
        try:
            return ipaddress.IPv6Address(head + ":" + str(v4))
        except ValueError:
            return None


def _is_cidr(s: str) -> bool:
    addr, sep, bits = s.partition("/")
    if not sep or not bits.isdigit() or not bits.isascii() or len(bits) > 3:
        return False
    ip = _parse_ip_sloppy(addr)
    if ip is None:
        return False
    limit = 32 if isinstance(ip, ipaddress.IPv4Address) and ":" not in addr else 128
    return int(bits) <= limit


def _is_mac(s: str) -> bool:
    if _MAC_COLON_RE.match(s):
        return (len(s) + 1) // 3 in (6, 8, 20)
    if _MAC_DOT_RE.match(s):
        return (len(s) + 1) // 5 * 2 in (6, 8, 20)
    return False


def _is_hostname(s: str) -> bool:
    shape = []
    for ch in s:
        if ch.isascii():
            shape.append("a" if ch.isalpha() else "0" if ch.isdigit() else ch if ch in "-." else "#")
        else:
            cat = unicodedata.category(ch)
            shape.append("a" if cat[0] == "L" else "$" if cat[0] == "S" else "#")
    if not _HOSTNAME_SHAPE_RE.match("".join(shape)):
        return False
    if len(s.encode()) > 255:
        return False
    return all(len(p.encode()) <= 63 for p in s.split("."))


def _is_email(s: str) -> bool:
    """net/mail.ParseAddress, approximately: ``local@domain`` optionally as ``Name <local@domain>``."""
    addr = s.strip()
    if addr.endswith(">") and "<" in addr:
        addr = addr[addr.rindex("<") + 1 : -1]
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or not domain:
        return False
    return bool(
        (_EMAIL_LOCAL_RE.match(local) or _EMAIL_QUOTED_RE.match(local)) and _EMAIL_DOMAIN_RE.match(domain)
    )


def _is_request_uri(s: str) -> bool:
    """net/url.ParseRequestURI, approximately: an absolute URI or an absolute path."""
    if not s or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return False
    if s.startswith(":"):
        return False
    m = _URI_SCHEME_RE.match(s)
    rest = s[m.end() :] if m else s
    if m is None and not s.startswith("/"):
        return False
    if not rest.startswith("/"):
        return False
    if m is not None and rest.startswith("//"):
        authority = rest[2:]
        for sepc in "/?":
            cut = authority.find(sepc)
            if cut != -1:
                authority = authority[:cut]
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            end = host.find("]")
            if end == -1:
                return False
            try:
                ipaddress.IPv6Address(host[1:end].split("%")[0])
            except ValueError:
                return False
            port = host[end + 1 :]
            return port == "" or ((port.startswith(":") and port[1:].isdigit()) or port == ":")
        name, _, port = host.partition(":")
        if port and not port.isdigit():
            return False
        return all(c in _HOST_OK or not c.isascii() for c in name)
    return True


def _is_isbn10(s: str) -> bool:
    t = re.sub(r"[\s-]+", "", s)
    if not re.match(r"^(?:[0-9]{9}X|[0-9]{10})\Z", t):
        return False
    total = sum((i + 1) * int(t[i]) for i in range(9))
    total += 100 if t[9] == "X" else 10 * int(t[9])
    return total % 11 == 0


def _is_isbn13(s: str) -> bool:
    t = re.sub(r"[\s-]+", "", s)
    if not re.match(r"^[0-9]{13}\Z", t):
        return False
    total = sum((1, 3)[i % 2] * int(t[i]) for i in range(12))
    return int(t[12]) - (10 - total % 10) % 10 == 0


def _is_creditcard(s: str) -> bool:
    t = re.sub(r"[^0-9]+", "", s)
    if not _CREDITCARD_RE.match(t):
        return False
    total = 0
    double = False
    for ch in reversed(t):
        d = int(ch)
        if double:
            d *= 2
            total += d % 10 + 1 if d >= 10 else d
        else:
            total += d
        double = not double
    return total % 10 == 0


def _is_base64(s: str) -> bool:
    if not _BASE64_RE.match(s):
        return False
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_bson_object_id(s: str) -> bool:
    return len(s) == 24 and all(c in "0123456789abcdefABCDEF" for c in s)


_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _is_bson_object_id,
    "uri": _is_request_uri,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": lambda s: _parse_ip_sloppy(s) is not None and "." in s,
    "ipv6": lambda s: _parse_ip_sloppy(s) is not None and ":" in s,
    "cidr": _is_cidr,
    "mac": _is_mac,
    "uuid": lambda s: _UUID_RE.match(s) is not None,
    "uuid3": lambda s: _UUID3_RE.match(s) is not None,
    "uuid4": lambda s: _UUID4_RE.match(s) is not None,
    "uuid5": lambda s: _UUID5_RE.match(s) is not None,
    "isbn": lambda s: _is_isbn10(s) or _is_isbn13(s),
    "isbn10": _is_isbn10,
    "isbn13": _is_isbn13,
    "creditcard": _is_creditcard,
    "ssn": lambda s: len(s) == 11 and _SSN_RE.match(s) is not None,
    "hexcolor": lambda s: _HEXCOLOR_RE.match(s) is not None,
    "rgbcolor": lambda s: _RGBCOLOR_RE.match(s) is not None,
    "byte": _is_base64,
    "password": lambda s: True,
    "date": _is_date,
    "duration": _is_duration,
    "datetime": _is_datetime,
}


def _supported_format(fmt: str) -> str:
    """StripUnsupportedFormatsPostProcess: formats CRDs do not support (int32, int64, float,
    double, ...) are dropped before validation and never checked."""
    return fmt if fmt.replace("-", "") in _FORMAT_CHECKS else ""


# =============================================================================================
# Compiled schema nodes
# =============================================================================================

_VALUE_VALIDATION_KEYS = (
    "format",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
)
_META_FIELDS = ("apiVersion", "kind", "metadata")


def _opt_int(v: object) -> int | None:
    if _is_int(v):
        return int(v)  # type: ignore[arg-type]
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    return None


def _opt_float(v: object) -> float | None:
    return _as_float(v) if _is_number(v) else None  # type: ignore[arg-type]


class _Schema:
    """One node of an openAPIV3Schema, compiled once: the structural part (type, properties,
    items, additionalProperties, default, nullable, x-kubernetes-*) drives pruning and defaulting;
    the value validations drive ``validate``."""

    __slots__ = (
        "additional",
        "additional_allows",
        "all_of",
        "any_of",
        "default",
        "default_json",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "has_additional",
        "has_default",
        "int_or_string",
        "items",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_re",
        "preserve",
        "properties",
        "required",
        "type",
        "types",
        "unique_items",
    )

    def __init__(self, raw: dict[str, Any]) -> None:
        t = _s(raw.get("type"))
        self.type = t
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        self.types: tuple[str, ...] = ("integer", "string") if self.int_or_string else ((t,) if t else ())
        self.nullable = raw.get("nullable") is True
        self.format = _supported_format(_s(raw.get("format")))
        default = raw.get("default")
        self.has_default = default is not None
        self.default = default
        self.default_json = orjson.dumps(default) if isinstance(default, dict | list) else None
        props = raw.get("properties")
        self.properties: dict[str, _Schema] = (
            {k: _Schema(v) for k, v in props.items() if isinstance(v, dict)}
            if isinstance(props, dict)
            else {}
        )
        ap = raw.get("additionalProperties")
        # StructuralOrBool: present (bool or schema), allows (false only for `false`), schema
        self.has_additional = isinstance(ap, bool | dict)
        self.additional: _Schema | None = _Schema(ap) if isinstance(ap, dict) else None
        self.additional_allows = ap is not False
        items = raw.get("items")
        self.items: _Schema | None = _Schema(items) if isinstance(items, dict) else None
        self.preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        lt = raw.get("x-kubernetes-list-type")
        self.list_type = lt if isinstance(lt, str) else None
        self.list_map_keys = [k for k in _l(raw.get("x-kubernetes-list-map-keys")) if isinstance(k, str)]
        self.maximum = _opt_float(raw.get("maximum"))
        self.exclusive_maximum = raw.get("exclusiveMaximum") is True
        self.minimum = _opt_float(raw.get("minimum"))
        self.exclusive_minimum = raw.get("exclusiveMinimum") is True
        self.max_length = _opt_int(raw.get("maxLength"))
        self.min_length = _opt_int(raw.get("minLength"))
        pattern = _s(raw.get("pattern"))
        self.pattern = pattern
        self.pattern_re = compile_go_regex(pattern)[0] if pattern else None
        self.max_items = _opt_int(raw.get("maxItems"))
        self.min_items = _opt_int(raw.get("minItems"))
        self.unique_items = raw.get("uniqueItems") is True
        self.multiple_of = _opt_float(raw.get("multipleOf"))
        self.max_properties = _opt_int(raw.get("maxProperties"))
        self.min_properties = _opt_int(raw.get("minProperties"))
        self.required = [k for k in _l(raw.get("required")) if isinstance(k, str)]
        enum = raw.get("enum")
        self.enum = enum if isinstance(enum, list) and enum else None
        self.all_of = [_Schema(x) for x in _l(raw.get("allOf")) if isinstance(x, dict)]
        self.any_of = [_Schema(x) for x in _l(raw.get("anyOf")) if isinstance(x, dict)]
        self.one_of = [_Schema(x) for x in _l(raw.get("oneOf")) if isinstance(x, dict)]
        nt = raw.get("not")
        self.not_ = _Schema(nt) if isinstance(nt, dict) else None

    def default_copy(self) -> JSON:
        return orjson.loads(self.default_json) if self.default_json is not None else self.default

    def child(self, key: str) -> _Schema | None:
        """The schema of an object field: its property, else additionalProperties' schema."""
        s = self.properties.get(key)
        if s is not None:
            return s
        return self.additional if self.has_additional else None


def _embedded_root(s: _Schema | None) -> _Schema:
    """The root of a resource is treated as x-kubernetes-embedded-resource (apiVersion, kind and
    metadata are never pruned or checked against properties)."""
    if s is None:
        s = _Schema({})
    if s.embedded:
        return s
    clone = object.__new__(_Schema)
    for name in _Schema.__slots__:
        setattr(clone, name, getattr(s, name))
    clone.embedded = True
    return clone


# =============================================================================================
# kube-openapi validation (pkg/validation/validate) with its error texts
# =============================================================================================

_E_TYPE = "type"
_E_REQUIRED = "required"
_E_TOO_LONG = "too_long"
_E_ENUM = "enum"
_E_MAX_ITEMS = "max_items"
_E_TOO_MANY_PROPS = "too_many_props"
_E_COMPOSITE = "composite"
_E_OTHER = "other"


class _VErr:
    __slots__ = ("code", "message", "name", "valid", "value", "values")

    def __init__(
        self,
        code: str,
        name: str,
        value: JSON,
        message: str,
        values: list[Any] | None = None,
        valid: int | None = None,
    ) -> None:
        self.code = code
        self.name = name
        self.value = value
        self.message = message
        self.values = values
        self.valid = valid


class _Result:
    """validate.Result: errors (deduplicated by message) and a MatchCount used to pick the most
    relevant failing branch of anyOf/oneOf."""

    __slots__ = ("errors", "matches", "seen")

    def __init__(self, matches: int = 0) -> None:
        self.errors: list[_VErr] = []
        self.matches = matches
        self.seen: set[str] = set()

    def add(self, err: _VErr) -> None:
        if err.message not in self.seen:
            self.seen.add(err.message)
            self.errors.append(err)

    def merge(self, other: _Result | None) -> None:
        if other is None:
            return
        for e in other.errors:
            self.add(e)
        self.matches += other.matches

    def valid(self) -> bool:
        return not self.errors


def _one(err: _VErr) -> _Result:
    r = _Result()
    r.add(err)
    return r


def _schema_info(data: JSON) -> tuple[str, str]:
    """typeValidator.schemaInfoForType: the JSON type and Go format of a decoded value."""
    if isinstance(data, bool):
        return "boolean", ""
    if _is_int(data):
        return "integer", "int64"
    if _is_number(data):
        return "number", "float64"
    if isinstance(data, str):
        return "string", ""
    if isinstance(data, list):
        return "array", ""
    return "object", ""


def _is_json_integer(f: float) -> bool:
    """swag.IsFloat64AJSONInteger."""
    if not math.isfinite(f) or abs(f) > 2**53:
        return False
    if f.is_integer():
        return True
    g = float(round(f))
    diff = abs(f - g)
    if f == 0 or g == 0:
        return diff < 1e-9 * 5e-324
    return diff / min(abs(f) + abs(g), 1.7976931348623157e308) < 1e-9


def _type_fail(name: str, type_name: str, value: str) -> _VErr:
    return _VErr(_E_TYPE, name, value, f"{name} in body must be of type {type_name}: {_go_quote(value)}")


def _validate_type(s: _Schema, data: JSON, path: str) -> _Result:
    if data is None:
        if s.types and "null" not in s.types and not s.nullable:
            return _one(_type_fail(path, ",".join(s.types), "null"))
        return _Result(1)
    sch_type, fmt = _schema_info(data)
    is_str_or_list = isinstance(data, str | list)
    is_float_int = sch_type == "number" and "integer" in s.types and _is_json_integer(_as_float(data))
    is_int_float = sch_type == "integer" and "number" in s.types
    if (
        not is_str_or_list
        and s.format
        and not (sch_type in s.types or fmt == s.format or is_float_int or is_int_float)
    ):
        return _one(_type_fail(path, s.format, fmt))
    if not ("number" in s.types or "integer" in s.types) and s.format and is_str_or_list:
        return _Result(1)
    if not (sch_type in s.types or is_float_int or is_int_float):
        return _one(_type_fail(path, ",".join(s.types), sch_type))
    return _Result(1)


def _validate_schema_props(s: _Schema, data: JSON, path: str) -> _Result:
    main = _Result()
    if s.any_of:
        best: _Result | None = None
        first_ok: _Result | None = None
        for sub in s.any_of:
            r = _validate_node(sub, data, path)
            if r.valid():
                best = None
                first_ok = r
                break
            if best is None or r.matches > best.matches:
                best = r
        if first_ok is None:
            main.add(
                _VErr(_E_COMPOSITE, "", None, f"{_go_quote(path)} must validate at least one schema (anyOf)")
            )
        if best is not None:
            main.merge(best)
        elif first_ok is not None:
            main.merge(first_ok)
    if s.one_of:
        best = None
        first_ok = None
        validated = 0
        for sub in s.one_of:
            r = _validate_node(sub, data, path)
            if r.valid():
                validated += 1
                best = None
                if first_ok is None:
                    first_ok = r
                continue
            if validated == 0 and (best is None or r.matches > best.matches):
                best = r
        if validated != 1:
            extra = "Found none valid" if validated == 0 else f"Found {validated} valid alternatives"
            main.add(
                _VErr(
                    _E_COMPOSITE,
                    "",
                    None,
                    f"{_go_quote(path)} must validate one and only one schema (oneOf). {extra}",
                )
            )
            if best is not None:
                main.merge(best)
        elif first_ok is not None:
            main.merge(first_ok)
    if s.all_of:
        validated = 0
        for sub in s.all_of:
            r = _validate_node(sub, data, path)
            if r.valid():
                validated += 1
            main.merge(r)
        if validated != len(s.all_of):
            extra = ". None validated" if validated == 0 else ""
            main.add(
                _VErr(
                    _E_COMPOSITE, "", None, f"{_go_quote(path)} must validate all the schemas (allOf){extra}"
                )
            )
    if s.not_ is not None and _validate_node(s.not_, data, path).valid():
        main.add(_VErr(_E_COMPOSITE, "", None, f"{_go_quote(path)} must not validate the schema (not)"))
    main.matches += 1
    return main


def _validate_string(s: _Schema, data: str, path: str) -> _Result | None:
    if s.max_length is not None and len(data) > s.max_length:
        return _one(
            _VErr(
                _E_TOO_LONG,
                path,
                data,
                f"{path} in body should be at most {s.max_length} chars long",
                valid=s.max_length,
            )
        )
    if s.min_length is not None and len(data) < s.min_length:
        return _one(
            _VErr(_E_OTHER, path, data, f"{path} in body should be at least {s.min_length} chars long")
        )
    if s.pattern_re is not None and s.pattern_re.search(data) is None:
        return _one(_VErr(_E_OTHER, path, data, f"{path} in body should match '{s.pattern}'"))
    return None


def _validate_format(s: _Schema, data: str, path: str) -> _Result | None:
    check = _FORMAT_CHECKS.get(s.format.replace("-", ""))
    if check is None:
        return None
    try:
        ok = check(data)
    except (ValueError, OverflowError, RecursionError):
        ok = False
    if ok:
        return None
    return _one(_type_fail(path, s.format, data))


def _go_int(f: float) -> int:
    """Go's float64 → int64 conversion (truncation; saturating here instead of undefined)."""
    if math.isnan(f):
        return _INT64_MIN
    if math.isinf(f):
        return _INT64_MAX if f > 0 else _INT64_MIN
    return max(_INT64_MIN, min(_INT64_MAX, int(f)))


def _num_text(v: int | float) -> str:
    return str(v) if isinstance(v, int) else _go_float(v)


def _validate_number(s: _Schema, data: int | float, path: str) -> _Result:
    res = _Result()
    res_multiple = _Result()
    res_min = _Result()
    res_max = _Result()
    native_int = _is_int(data)
    if s.multiple_of is not None:
        if native_int:
            factor: int | float = _go_int(s.multiple_of)
            if factor <= 0:
                res_multiple.add(
                    _VErr(
                        _E_OTHER,
                        path,
                        factor,
                        f"factor MultipleOf declared for {path} must be positive: {factor}",
                    )
                )
            elif _trunc_div(int(data), int(factor)) * int(factor) != data:
                res_multiple.add(
                    _VErr(_E_OTHER, path, data, f"{path} in body should be a multiple of {factor}")
                )
        else:
            f = s.multiple_of
            value = _as_float(data)
            if f <= 0:
                res_multiple.add(
                    _VErr(
                        _E_OTHER,
                        path,
                        f,
                        f"factor MultipleOf declared for {path} must be positive: {_go_float(f)}",
                    )
                )
            else:
                mult = (1 / f * value) if f < 1 else value / f
                if not _is_json_integer(mult):
                    res_multiple.add(
                        _VErr(_E_OTHER, path, data, f"{path} in body should be a multiple of {_go_float(f)}")
                    )
    if s.maximum is not None:
        bound: int | float = _go_int(s.maximum) if native_int else s.maximum
        value = data if native_int else _as_float(data)
        if (not s.exclusive_maximum and value > bound) or (s.exclusive_maximum and value >= bound):
            word = "less than" if s.exclusive_maximum else "less than or equal to"
            res_max.add(_VErr(_E_OTHER, path, data, f"{path} in body should be {word} {_num_text(bound)}"))
    if s.minimum is not None:
        bound = _go_int(s.minimum) if native_int else s.minimum
        value = data if native_int else _as_float(data)
        if (not s.exclusive_minimum and value < bound) or (s.exclusive_minimum and value <= bound):
            word = "greater than" if s.exclusive_minimum else "greater than or equal to"
            res_min.add(_VErr(_E_OTHER, path, data, f"{path} in body should be {word} {_num_text(bound)}"))
    res.merge(res_multiple)
    res.merge(res_min)
    res.merge(res_max)
    res.matches += 1
    return res


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _validate_slice(s: _Schema, data: list[Any], path: str) -> _Result:
    res = _Result()
    if s.items is not None:
        for i, v in enumerate(data):
            res.merge(_validate_node(s.items, v, f"{path}[{i}]"))
    size = len(data)
    if s.min_items is not None and size < s.min_items:
        res.add(_VErr(_E_OTHER, path, size, f"{path} in body should have at least {s.min_items} items"))
    if s.max_items is not None and size > s.max_items:
        res.add(
            _VErr(
                _E_MAX_ITEMS,
                path,
                size,
                f"{path} in body should have at most {s.max_items} items",
                valid=s.max_items,
            )
        )
    if s.unique_items:
        for i in range(size):
            if any(_deep_equal(data[i], data[j]) for j in range(i)):
                res.add(_VErr(_E_OTHER, path, None, f"{path} in body shouldn't contain duplicates"))
                break
    res.matches += 1
    return res


def _rune_string(i: int) -> str:
    """Go's string(rune(i)) for an integer converted to a string type."""
    if 0 <= i <= 0x10FFFF and not 0xD800 <= i <= 0xDFFF:
        return chr(i)
    return "\ufffd"


def _enum_matches(data: JSON, ev: JSON) -> bool:
    """basicCommonValidator: data converted to the enum value's Go type, then reflect.DeepEqual."""
    if ev is None:
        # kube-openapi skips nil enum values (so a null could never match); accepting a listed
        # null is what `nullable: true` + `enum: [..., null]` schemas expect
        return data is None
    if isinstance(ev, bool):
        return isinstance(data, bool) and data == ev
    if _is_int(ev):
        if _is_int(data):
            return data == ev
        if _is_number(data):
            return _go_int(_as_float(data)) == ev
        return False
    if _is_number(ev):
        return _is_number(data) and _as_float(data) == _as_float(ev)
    if isinstance(ev, str):
        if isinstance(data, str):
            return data == ev
        return _is_int(data) and _rune_string(data) == ev
    if isinstance(ev, dict | list):
        return type(data) is type(ev) and _deep_equal(data, ev)
    return False


def _validate_enum(s: _Schema, data: JSON, path: str) -> _Result | None:
    if not s.enum:
        return None
    for ev in s.enum:
        if _enum_matches(data, ev):
            return None
    return _one(
        _VErr(_E_ENUM, path, data, f"{path} in body should be one of {_go_v(s.enum)}", values=list(s.enum))
    )


def _validate_object(s: _Schema, data: dict[str, Any], path: str) -> _Result:
    n = len(data)
    if s.min_properties is not None and n < s.min_properties:
        return _one(
            _VErr(_E_OTHER, path, n, f"{path} in body should have at least {s.min_properties} properties")
        )
    if s.max_properties is not None and n > s.max_properties:
        return _one(
            _VErr(
                _E_TOO_MANY_PROPS,
                path,
                n,
                f"{path} in body should have at most {s.max_properties} properties",
                valid=s.max_properties,
            )
        )
    res = _Result()
    props = s.properties
    if s.has_additional and not s.additional_allows:
        for k in data:
            if k not in props:
                res.add(_VErr(_E_OTHER, path, k, f"{path}.{k} in body is a forbidden property"))
    elif s.additional is not None:
        for k, v in data.items():
            if k not in props:
                res.merge(_validate_node(s.additional, v, f"{path}.{k}"))
    for name, ps in props.items():
        if name in data:
            res.merge(_validate_node(ps, data[name], f"{path}.{name}" if path else name))
    for k in s.required:
        if k not in data:
            res.add(_VErr(_E_REQUIRED, f"{path}.{k}", None, f"{path}.{k} in body is required"))
    return res


def _validate_node(s: _Schema, data: JSON, path: str) -> _Result:
    """SchemaValidator.Validate: the validators that apply to the value's kind, in order."""
    result = _Result()
    if data is None:
        result.merge(_validate_type(s, None, path))
        result.merge(_validate_enum(s, None, path))
        return result
    if s.types or s.format:
        result.merge(_validate_type(s, data, path))
        result.matches += 1
    result.merge(_validate_schema_props(s, data, path))
    result.matches += 1
    if isinstance(data, str):
        result.merge(_validate_string(s, data, path))
        result.matches += 1
        if s.format:
            result.merge(_validate_format(s, data, path))
            result.matches += 1
    elif _is_number(data):
        result.merge(_validate_number(s, data, path))
        result.matches += 1
    elif isinstance(data, list):
        result.merge(_validate_slice(s, data, path))
        result.matches += 1
    result.merge(_validate_enum(s, data, path))
    result.matches += 1
    if isinstance(data, dict):
        result.merge(_validate_object(s, data, path))
        result.matches += 1
    result.matches += 1
    return result


def _result_causes(fld: str, res: _Result) -> list[Cause]:
    """kubeOpenAPIResultToFieldErrors: kube-openapi errors → field errors under ``fld``."""
    causes: list[Cause] = []
    for e in res.errors:
        if e.code == _E_COMPOSITE:
            causes.append(_invalid(fld, "", e.message))
            continue
        p = fld
        if e.name and e.name != ".":
            p = _child(fld, e.name.removeprefix("."))
        if e.code == _E_REQUIRED:
            causes.append(_required(p))
        elif e.code == _E_ENUM:
            values = [v if isinstance(v, str) else _go_json(v) for v in e.values or []]
            causes.append(_not_supported(p, e.value, values))
        elif e.code == _E_TOO_LONG:
            causes.append(_too_long(p, e.valid if e.valid is not None else -1))
        elif e.code in (_E_MAX_ITEMS, _E_TOO_MANY_PROPS):
            causes.append(
                _too_many(
                    p, e.value if isinstance(e.value, int) else -1, e.valid if e.valid is not None else -1
                )
            )
        elif e.code == _E_TYPE:
            causes.append(_type_invalid(p, "" if e.value is None else e.value, e.message))
        else:
            causes.append(_invalid(p, "" if e.value is None else e.value, e.message))
    return causes


# =============================================================================================
# Pruning, null pruning, defaulting (pkg/apiserver/schema/{pruning,defaulting})
# =============================================================================================


class _Unknown:
    """UnknownFieldPathOptions: the paths of pruned fields (``spec.foo``, ``spec.list[0].bar``)."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths: list[str] = []

    def record(self, parent: str, key: str) -> None:
        self.paths.append(_child(parent, key))


def _prune(x: JSON, s: _Schema | None, path: str, unknown: _Unknown) -> None:
    if s is not None and s.preserve:
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.record(path, k)
                del x[k]
            return
        props = s.properties
        for k in list(x):
            if s.embedded and k in _META_FIELDS:
                continue
            ps = props.get(k)
            if ps is not None:
                _prune(x[k], ps, _child(path, k), unknown)
            elif s.has_additional:
                _prune(x[k], s.additional, _child(path, k), unknown)
            else:
                if k not in _META_FIELDS or path:
                    unknown.record(path, k)
                del x[k]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", unknown)


def _skip_prune(x: JSON, s: _Schema | None, path: str, unknown: _Unknown) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = s.properties
        for k, v in x.items():
            if s.embedded and k in _META_FIELDS:
                continue
            ps = props.get(k)
            if ps is not None:
                _prune(v, ps, _child(path, k), unknown)
            elif s.has_additional:
                _prune(v, s.additional, _child(path, k), unknown)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _skip_prune(v, s.items, f"{path}[{i}]", unknown)


def _prune_nulls(x: JSON, s: _Schema | None) -> None:
    """PruneNonNullableNullsWithoutDefaults: ``null`` where the schema allows no null and has no
    default is removed (nulls with a default are defaulted later)."""
    if isinstance(x, dict):
        for k in list(x):
            v = x[k]
            sub = s.child(k) if s is not None else None
            if v is None and sub is not None and not sub.nullable and not sub.has_default:
                del x[k]
            else:
                _prune_nulls(v, sub)
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for v in x:
            _prune_nulls(v, items)


def _default(x: JSON, s: _Schema | None) -> None:
    """defaulting.Default: missing fields, and nulls the schema does not allow, get a copy of the
    default; then every field the schema describes is defaulted in turn."""
    if s is None:
        return
    if isinstance(x, dict):
        for k, prop in s.properties.items():
            if not prop.has_default:
                continue
            if k not in x or (x[k] is None and not prop.nullable):
                x[k] = prop.default_copy()
        for k in list(x):
            prop = s.properties.get(k)
            if prop is not None:
                _default(x[k], prop)
            elif s.has_additional:
                ap = s.additional
                if x[k] is None and ap is not None and not ap.nullable and ap.has_default:
                    x[k] = ap.default_copy()
                _default(x[k], ap)
    elif isinstance(x, list):
        items = s.items
        if items is None:
            return
        for i, v in enumerate(x):
            if v is None and not items.nullable and items.has_default:
                x[i] = v = items.default_copy()
            _default(v, items)


# =============================================================================================
# ObjectMeta / TypeMeta of resources (pkg/apiserver/schema/objectmeta)
# =============================================================================================

# ObjectMeta's fields in the order of the Go struct (and of its JSON encoding)
OBJECT_META_FIELDS = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
_OBJECT_META_FIELDS = frozenset(OBJECT_META_FIELDS)
_OMIT_EMPTY_STRINGS = frozenset(("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"))
_OWNER_REF_FIELDS = frozenset(("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"))
_MANAGED_FIELDS_FIELDS = frozenset(
    ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")
)


def _coerce_object_meta(meta: dict[str, Any], path: str, unknown: _Unknown) -> None:
    """The ObjectMeta round trip (GetObjectMeta + SetObjectMeta): unknown fields dropped, omitempty
    fields that are empty dropped."""
    for k in list(meta):
        v = meta[k]
        if k not in _OBJECT_META_FIELDS:
            unknown.record(path, k)
            del meta[k]
        elif v is None or (k in _OMIT_EMPTY_STRINGS and v == "") or (k == "generation" and v == 0):
            del meta[k]
        elif k in ("ownerReferences", "managedFields") and isinstance(v, list):
            allowed = _OWNER_REF_FIELDS if k == "ownerReferences" else _MANAGED_FIELDS_FIELDS
            for i, entry in enumerate(v):
                if isinstance(entry, dict):
                    for ek in list(entry):
                        if ek not in allowed:
                            unknown.record(f"{path}.{k}[{i}]", ek)
                            del entry[ek]


def _coerce_embedded(x: JSON, s: _Schema | None, path: str, unknown: _Unknown) -> None:
    """objectmeta.Coerce for x-kubernetes-embedded-resource objects below the root."""
    if s is None:
        return
    if isinstance(x, dict):
        if s.embedded and isinstance(x.get("metadata"), dict):
            _coerce_object_meta(x["metadata"], _child(path, "metadata"), unknown)
        for k, v in x.items():
            sub = s.properties.get(k)
            if sub is not None:
                _coerce_embedded(v, sub, _child(path, k), unknown)
            elif s.has_additional:
                _coerce_embedded(v, s.additional, _child(path, k), unknown)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _coerce_embedded(v, s.items, f"{path}[{i}]", unknown)


_GO_TYPE_NAMES = {
    bool: "bool",
    int: "int64",
    float: "float64",
    str: "string",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def _go_type(v: JSON) -> str:
    if v is None:
        return "<nil>"
    if _is_number(v) and not _is_int(v):
        return "float64"
    return _GO_TYPE_NAMES.get(type(v), type(v).__name__)


_EMBEDDED_META_RT = ResourceType("", "v1", "embedded", "embedded", "Embedded", False, name_rule=PATH_SEGMENT)
_EMBEDDED_META_RT_NS = ResourceType(
    "", "v1", "embedded", "embedded", "Embedded", True, name_rule=PATH_SEGMENT
)

_META_STRING_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")


def _object_meta_decode_error(meta: JSON) -> str | None:
    """What decoding ``metadata`` into metav1.ObjectMeta reports for a wrong type, if anything."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return f"invalid metadata: expected object, got {_go_type(meta)}"
    for k in _META_STRING_FIELDS:
        v = meta.get(k)
        if v is not None and not isinstance(v, str):
            return (
                f"json: cannot unmarshal {_json_kind(v)} into Go struct field ObjectMeta.{k} of type string"
            )
    for k in ("labels", "annotations"):
        v = meta.get(k)
        if v is not None and not isinstance(v, dict):
            return _unmarshal_error(v, k, "map[string]string")
        if isinstance(v, dict):
            for vv in v.values():
                if vv is not None and not isinstance(vv, str):
                    return _unmarshal_error(vv, k, "string")
    v = meta.get("finalizers")
    if v is not None and not (isinstance(v, list) and all(isinstance(f, str) for f in v)):
        bad = v if not isinstance(v, list) else next(f for f in v if not isinstance(f, str))
        typ = "[]string" if not isinstance(v, list) else "string"
        return _unmarshal_error(bad, "finalizers", typ)
    v = meta.get("generation")
    if v is not None and not _is_int(v):
        return _unmarshal_error(v, "generation", "int64")
    return None


def _unmarshal_error(v: JSON, field: str, go_type: str) -> str:
    return f"json: cannot unmarshal {_json_kind(v)} into Go struct field ObjectMeta.{field} of type {go_type}"


def _json_kind(v: JSON) -> str:
    if isinstance(v, bool):
        return "bool"
    if _is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _reprefix(causes: list[Cause], prefix: str) -> list[Cause]:
    """Moves causes reported at ``metadata...`` under ``<prefix>.metadata...``."""
    if not prefix:
        return causes
    return [Cause(c.reason, c.message, f"{prefix}.{c.field}" if c.field else prefix) for c in causes]


def _validate_embedded_resource(path: str, x: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if "apiVersion" not in x:
        causes.append(_required(_child(path, "apiVersion")))
    if "kind" not in x:
        causes.append(_required(_child(path, "kind")))
    for k, v in x.items():
        if k == "apiVersion":
            p = _child(path, k)
            if not isinstance(v, str):
                causes.append(_invalid(p, v, "must be a string"))
            elif not v:
                causes.append(_invalid(p, v, "must not be empty"))
            elif v != "/" and v.count("/") > 1:
                causes.append(_invalid(p, v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            p = _child(path, k)
            if not isinstance(v, str):
                causes.append(_invalid(p, v, "must be a string"))
            elif not v:
                causes.append(_invalid(p, v, "must not be empty"))
            else:
                errs = is_dns1035_label(v.lower())
                if errs:
                    causes.append(
                        _invalid(p, v, "may have mixed case, but should otherwise match: " + ",".join(errs))
                    )
        elif k == "metadata":
            p = _child(path, k)
            err = _object_meta_decode_error(v)
            if err is not None:
                causes.append(_invalid(p, v, err))
            elif isinstance(v, dict):
                meta = dict(v)
                if not meta.get("name"):
                    meta["name"] = "fakename"
                rt = _EMBEDDED_META_RT_NS if meta.get("namespace") else _EMBEDDED_META_RT
                got = validate_object_meta({"metadata": meta}, rt, is_create=True, url_namespace=None)
                causes.extend(_reprefix(got, path))
    return causes


def _validate_embedded(path: str, x: JSON, s: _Schema | None) -> list[Cause]:
    """objectmeta.Validate: TypeMeta and ObjectMeta of every embedded resource."""
    if s is None:
        return []
    causes: list[Cause] = []
    if isinstance(x, dict):
        if s.embedded:
            causes.extend(_validate_embedded_resource(path, x))
        for k, v in x.items():
            sub = s.properties.get(k)
            if sub is not None:
                causes.extend(_validate_embedded(_child(path, k), v, sub))
            elif s.has_additional:
                causes.extend(_validate_embedded(_key(path, k), v, s.additional))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            causes.extend(_validate_embedded(_index(path, i), v, s.items))
    return causes


# =============================================================================================
# x-kubernetes-list-type set/map invariants (pkg/apiserver/schema/listtype)
# =============================================================================================


def _set_key(v: JSON) -> tuple[str, Any]:
    if isinstance(v, dict | list):
        return ("compound", _go_json(v))
    return _scalar_key(v)


def _non_unique(items: list[Any]) -> list[int]:
    """validateListSet: the index of the second appearance of every repeated value."""
    if len(items) <= 1:
        return []
    seen: dict[tuple[str, Any], int] = {}
    out: list[int] = []
    for i, v in enumerate(items):
        k = _set_key(v)
        times = seen.get(k, 0)
        seen[k] = times + 1
        if times == 1:
            out.append(i)
    return out


_UNSPECIFIED_KEY = ("unspecified", None)


def _validate_list_map(path: str, s: _Schema, items: list[Any]) -> list[Cause]:
    for i, x in enumerate(items):
        if x is not None and not isinstance(x, dict):
            return [_invalid(_index(path, i), x, "must be an object for an array of list-type map")]
    if len(items) <= 1:
        return []
    keys_fields = s.list_map_keys
    causes: list[Cause] = []
    if len(keys_fields) == 1:
        field = keys_fields[0]
        keys: list[Any] = []
        for x in items:
            if x is None or field not in x:
                keys.append(_UNSPECIFIED_KEY)
            else:
                keys.append(x[field])
        seen: dict[Any, int] = {}
        for i, k in enumerate(keys):
            sk = _UNSPECIFIED_KEY if k is _UNSPECIFIED_KEY else _set_key(k)
            times = seen.get(sk, 0)
            seen[sk] = times + 1
            if times == 1:
                causes.append(_duplicate(_index(path, i), {} if k is _UNSPECIFIED_KEY else {field: k}))
        return causes
    key_maps = [{f: x[f] for f in keys_fields if f in x} if isinstance(x, dict) else {} for x in items]
    for i in _non_unique(key_maps):  # type: ignore[arg-type]
        causes.append(_duplicate(_index(path, i), key_maps[i]))
    return causes


def _list_types_value(path: str, s: _Schema, v: JSON) -> list[Cause]:
    if isinstance(v, list):
        return _list_types_array(path, s, v)
    if isinstance(v, dict):
        return _list_types_object(path, s, v)
    return []


def _list_types_array(path: str, s: _Schema, arr: list[Any]) -> list[Cause]:
    causes: list[Cause] = []
    if s.list_type == "set":
        causes.extend(_duplicate(_index(path, i), arr[i]) for i in _non_unique(arr))
    elif s.list_type == "map":
        causes.extend(_validate_list_map(path, s, arr))
    if s.items is not None:
        for i, v in enumerate(arr):
            causes.extend(_list_types_value(_index(path, i), s.items, v))
    return causes


def _list_types_object(path: str, s: _Schema, obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if s.additional is not None:
        for k, v in obj.items():
            causes.extend(_list_types_value(_key(path, k), s.additional, v))
    if s.properties:
        for k, v in obj.items():
            sub = s.properties.get(k)
            if sub is not None:
                causes.extend(_list_types_value(_child(path, k), sub, v))
    return causes


# =============================================================================================
# Scale subresource (pkg/registry/customresource/{validator,scale}.go)
# =============================================================================================


class _AccessorError(Exception):
    pass


def _nested(obj: dict[str, Any], fields: list[str]) -> tuple[JSON, bool]:
    """unstructured.NestedFieldNoCopy."""
    val: JSON = obj
    for i, f in enumerate(fields):
        if val is None:
            return None, False
        if isinstance(val, dict):
            if f not in val:
                return None, False
            val = val[f]
        else:
            path = "." + ".".join(fields[: i + 1])
            raise _AccessorError(
                f"{path} accessor error: {_go_v(val)} is of the type {_go_type(val)}, "
                "expected map[string]interface{}"
            )
    return val, True


def _nested_typed(obj: dict[str, Any], dotted: str, want: str) -> tuple[Any, bool]:
    fields = dotted.removeprefix(".").split(".")
    val, found = _nested(obj, fields)
    if not found:
        return (0 if want == "int64" else ""), False
    ok = _is_int(val) if want == "int64" else isinstance(val, str)
    if not ok:
        raise _AccessorError(
            f".{'.'.join(fields)} accessor error: {_go_v(val)} is of the type {_go_type(val)}, "
            f"expected {want}"
        )
    return val, True


def _validate_scale(obj: dict[str, Any], scale: dict[str, Any]) -> list[Cause]:
    """ValidateScaleSpec + ValidateScaleStatus of the custom resource validator."""
    causes: list[Cause] = []
    for key in ("specReplicasPath", "statusReplicasPath"):
        path = _s(scale.get(key))
        if not path:
            continue
        try:
            replicas, _ = _nested_typed(obj, path, "int64")
        except _AccessorError as e:
            causes.append(_invalid(path, 0, str(e)))
            continue
        if replicas < 0:
            causes.append(_invalid(path, replicas, "should be a non-negative integer"))
        elif replicas > 2**31 - 1:
            causes.append(_invalid(path, replicas, "should be less than or equal to 2147483647"))
    selector_path = scale.get("labelSelectorPath")
    if isinstance(selector_path, str) and selector_path:
        try:
            _nested_typed(obj, selector_path, "string")
        except _AccessorError as e:
            causes.append(_invalid(selector_path, "", str(e)))
    return causes


def scale_from_custom_resource(obj: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a custom resource (scaleFromCustomResource). ``scale`` is the
    version's ``subresources.scale``. Raises StatusError (500, like upstream) when a path points
    at a value of the wrong type."""
    try:
        spec_replicas, _ = _nested_typed(obj, _s(scale.get("specReplicasPath")), "int64")
        status_replicas, _ = _nested_typed(obj, _s(scale.get("statusReplicasPath")), "int64")
        selector = ""
        selector_path = scale.get("labelSelectorPath")
        if isinstance(selector_path, str) and selector_path:
            selector, _ = _nested_typed(obj, selector_path, "string")
    except _AccessorError as e:
        raise StatusError(500, "InternalError", f"Internal error occurred: {e}", {}) from None
    meta = _d(obj.get("metadata"))
    out_meta: dict[str, Any] = {}
    for k in ("name", "namespace", "uid", "resourceVersion"):
        if meta.get(k):
            out_meta[k] = meta[k]
    out_meta["creationTimestamp"] = meta.get("creationTimestamp")
    status: dict[str, Any] = {"replicas": _int32(status_replicas)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_meta,
        "spec": {"replicas": _int32(spec_replicas)},
        "status": status,
    }


def _int32(v: int) -> int:
    """Go's int32(x) conversion (wraps around)."""
    v &= 0xFFFFFFFF
    return v - 2**32 if v >= 2**31 else v


def apply_scale_to_custom_resource(obj: dict[str, Any], scale: dict[str, Any], replicas: int) -> None:
    """Writes ``replicas`` at the specReplicasPath (unstructured.SetNestedField). Raises
    StatusError 500 when an intermediate value is not an object."""
    fields = _s(scale.get("specReplicasPath")).removeprefix(".").split(".")
    m: dict[str, Any] = obj
    for f in fields[:-1]:
        nxt = m.get(f)
        if nxt is None:
            nxt = m[f] = {}
        if not isinstance(nxt, dict):
            raise StatusError(
                500,
                "InternalError",
                "Internal error occurred: value cannot be set because "
                f"{_go_v(nxt)} is not a map[string]interface {{}}",
                {},
            )
        m = nxt
    m[fields[-1]] = int(replicas)


# =============================================================================================
# The schema of one served version
# =============================================================================================


def crd_version(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    """The ``spec.versions[]`` entry named ``version``."""
    for v in _l(_d(crd.get("spec")).get("versions")):
        if isinstance(v, dict) and v.get("name") == version:
            return v
    return None


_PATH_TOKEN_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]|(\.)")
_MISSING = object()


def _split_path(path: str) -> list[str | int] | None:
    """``spec.list[0].a`` → ["spec", "list", 0, "a"]; None for paths it cannot split."""
    if not path:
        return []
    parts: list[str | int] = []
    pos = 0
    for m in _PATH_TOKEN_RE.finditer(path):
        if m.start() != pos:
            return None
        pos = m.end()
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
    return parts if pos == len(path) else None


def _lookup(obj: JSON, parts: list[str | int]) -> JSON:
    cur = obj
    for p in parts:
        if isinstance(p, int):
            if not isinstance(cur, list) or p >= len(cur):
                return _MISSING
        elif not isinstance(cur, dict) or p not in cur:
            return _MISSING
        cur = cur[p]  # type: ignore[index]
    return cur


_DEPTH_MESSAGE = "the object is nested too deeply"
# hasBlockingErr (registry/customresource/strategy.go): CEL rules are not run on such objects.
_CEL_BLOCKING = frozenset(
    (
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    )
)
_CEL_BLOCKED = (
    "some validation rules were not checked because the object was invalid; correct the existing errors to "
    "complete validation"
)


def _has_x_validations(schema: dict[str, Any]) -> bool:
    return _schema_has(schema, lambda s: bool(s.get("x-kubernetes-validations")))


class CRDSchema:
    """Validation, pruning and defaulting of custom resources by one version's openAPIV3Schema.

    Build it once per CRD version (``CRDSchema.for_version(crd, "v1")``) and reuse it: everything
    is compiled at construction. The request path of kube-apiserver is: ``prune`` (on decode),
    ``default`` (on decode, and on every read from storage), then ``validate``.
    """

    __slots__ = ("_cel", "_has_cel", "_root", "_root_embedded", "raw", "scale")

    def __init__(
        self, openapi_v3_schema: dict[str, Any] | None, *, scale: dict[str, Any] | None = None
    ) -> None:
        self.raw = openapi_v3_schema if isinstance(openapi_v3_schema, dict) else None
        self._root: _Schema | None = _Schema(self.raw) if self.raw is not None else None
        self._root_embedded = _embedded_root(self._root)
        self.scale = scale if isinstance(scale, dict) else None
        self._cel: _celrules.Validator | None = None  # compiled on first use, kept with the schema
        self._has_cel = self.raw is not None and _has_x_validations(self.raw)

    def _cel_causes(
        self, causes: list[Cause], obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Cause]:
        """The x-kubernetes-validations causes, unless ``causes`` holds a blocking error
        (customResourceStrategy.Validate's hasBlockingErr)."""
        if not self._has_cel:
            return []
        if any(c.reason in _CEL_BLOCKING for c in causes):
            return [_invalid("<nil>", None, _CEL_BLOCKED)]
        if self._cel is None:
            self._cel = _celrules.Validator(self.raw)
        try:
            return self._cel.validate(obj, old)
        except RecursionError:
            return [_invalid("", "", _DEPTH_MESSAGE)]

    @classmethod
    def for_version(cls, crd: dict[str, Any], version: str) -> CRDSchema:
        """The schema (and scale subresource) of ``spec.versions[name=version]``."""
        v = _d(crd_version(crd, version))
        schema = _d(v.get("schema")).get("openAPIV3Schema")
        scale = _d(v.get("subresources")).get("scale")
        return cls(
            schema if isinstance(schema, dict) else None, scale=scale if isinstance(scale, dict) else None
        )

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """The causes kube-apiserver reports for ``obj`` (already pruned and defaulted): schema
        validation (kube-openapi messages), scale paths, embedded resources' apiVersion/kind/
        metadata, x-kubernetes-list-type set/map uniqueness and x-kubernetes-validations rules.
        metadata.name/namespace and the object's own apiVersion/kind are the caller's generic
        checks. Never raises."""
        causes = self._structural_causes(obj)
        return causes + self._cel_causes(causes, obj, None)

    def _structural_causes(self, obj: dict[str, Any]) -> list[Cause]:
        try:
            causes: list[Cause] = []
            if self._root is not None:
                causes.extend(_result_causes("", _validate_node(self._root, obj, "")))
            if self.scale is not None and isinstance(obj, dict):
                causes.extend(_validate_scale(obj, self.scale))
            if self._root is not None:
                causes.extend(_validate_embedded("", obj, self._root))
                if isinstance(obj, dict):
                    causes.extend(_list_types_object("", self._root, obj))
            return causes
        except RecursionError:
            return [_invalid("", "", _DEPTH_MESSAGE)]

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """``validate`` for an update, with CRDValidationRatcheting (on by default in 1.32): a
        cause is dropped when ``old`` already had it and the value it is about is unchanged (for
        ``Required`` causes: the object that lacks the field is unchanged). Never raises."""
        causes = self._structural_causes(new)
        if causes and isinstance(old, dict):
            causes = self._ratchet(causes, new, old)
        return causes + self._cel_causes(causes, new, old if isinstance(old, dict) else None)

    def _ratchet(self, causes: list[Cause], new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        old_causes = {(c.field, c.message) for c in self._structural_causes(old)}
        kept: list[Cause] = []
        for c in causes:
            if (c.field, c.message) in old_causes:
                parts = _split_path(c.field)
                if c.reason == "FieldValueRequired" and parts:
                    parts = parts[:-1]
                if parts is not None:
                    a, b = _lookup(new, parts), _lookup(old, parts)
                    if a is not _MISSING and b is not _MISSING and _deep_equal(a, b):
                        continue
            kept.append(c)
        return kept

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Removes fields the schema does not specify (outside x-kubernetes-preserve-unknown-fields),
        keeps apiVersion/kind/metadata at the root and in embedded resources but reduces metadata
        to ObjectMeta's fields, and drops nulls of non-nullable fields without a default. Returns
        the sorted paths of the removed fields (for fieldValidation warnings/errors). Raises
        StatusError 400 only for objects nested deeper than Python can recurse."""
        unknown = _Unknown()
        try:
            _prune(obj, self._root_embedded, "", unknown)
            if isinstance(obj, dict):
                meta = obj.get("metadata")
                if isinstance(meta, dict):
                    _coerce_object_meta(meta, "metadata", unknown)
                if self._root is not None:
                    _coerce_embedded(obj, self._root, "", unknown)
            _prune_nulls(obj, self._root)
        except RecursionError:
            raise StatusError(400, "BadRequest", _DEPTH_MESSAGE) from None
        return sorted(set(unknown.paths))

    def default(self, obj: dict[str, Any]) -> None:
        """Applies the schema's defaults (structural defaulting, after pruning). Raises StatusError
        400 only for objects nested deeper than Python can recurse."""
        try:
            _default(obj, self._root)
        except RecursionError:
            raise StatusError(400, "BadRequest", _DEPTH_MESSAGE) from None


# =============================================================================================
# CRD validation: structural schemas (pkg/apiserver/schema/{convert,validation,complete}.go)
# =============================================================================================

_ROOT, _ITEM, _FIELD = 0, 1, 2
_TYPE_EMPTY = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}


def _present(v: object) -> bool:
    return v is not None


def _structural_init_error(s: object, nested: bool = False) -> str | None:
    """NewStructural's error, if any: unsupported fields, items arrays, preserve-unknown false."""
    if not isinstance(s, dict):
        return None
    if _s(s.get("id")):
        return "OpenAPIV3Schema 'id' is not supported"
    if _s(s.get("$schema")):
        return "OpenAPIV3Schema 'schema' is not supported"
    if _s(s.get("$ref")):
        return "OpenAPIV3Schema '$ref' is not supported"
    if _d(s.get("patternProperties")):
        return "OpenAPIV3Schema 'patternProperties' is not supported"
    if _d(s.get("dependencies")):
        return "OpenAPIV3Schema 'dependencies' is not supported"
    if _present(s.get("additionalItems")):
        return "OpenAPIV3Schema 'additionalItems' is not supported"
    if _d(s.get("definitions")):
        return "OpenAPIV3Schema 'definitions' is not supported"
    for key in ("not",):
        err = _structural_init_error(s.get(key), True)
        if err:
            return err
    for key in ("allOf", "anyOf", "oneOf"):
        for x in _l(s.get(key)):
            err = _structural_init_error(x, True)
            if err:
                return err
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        err = _structural_init_error(ap, nested)
        if err:
            return err
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    items = s.get("items")
    if isinstance(items, list) and items:
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    err = _structural_init_error(items, nested)
    if err:
        return err
    for v in _d(s.get("properties")).values():
        err = _structural_init_error(v, nested)
        if err:
            return err
    return None


def _type_only(v: object, t: str) -> bool:
    """A NestedValueValidation whose only setting is ``type: t`` (example/externalDocs are dropped)."""
    if not isinstance(v, dict) or v.get("type") != t:
        return False
    return all(k in ("type", "example", "externalDocs") or _is_zero(k, x) for k, x in v.items())


def _is_int_or_string_any_of(s: dict[str, Any]) -> bool:
    any_of = _l(s.get("anyOf"))
    return len(any_of) == 2 and _type_only(any_of[0], "integer") and _type_only(any_of[1], "string")


def _is_int_or_string_all_of(s: dict[str, Any]) -> bool:
    all_of = _l(s.get("allOf"))
    return bool(all_of) and isinstance(all_of[0], dict) and _is_int_or_string_any_of(all_of[0])


# Go field kinds of JSONSchemaProps: value fields are zero when empty/false, pointer, slice and map
# fields are non-zero as soon as they are present.
_VALUE_FIELDS = frozenset(
    (
        "id",
        "$schema",
        "description",
        "type",
        "nullable",
        "format",
        "title",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "pattern",
        "uniqueItems",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    )
)


def _is_zero(key: str, v: object) -> bool:
    if v is None:
        return True
    if key in _VALUE_FIELDS:
        return v is False or v == ""
    # enum/allOf/anyOf/oneOf are rebuilt with append: an empty list becomes nil
    return key in ("enum", "allOf", "anyOf", "oneOf") and v == []


def _vs_invariants(s: object, lvl: int, path: str) -> list[Cause]:
    if not isinstance(s, dict):
        return []
    errs: list[Cause] = []
    t = _s(s.get("type"))
    items = s.get("items")
    if t == "array" and not isinstance(items, dict):
        errs.append(_required(_child(path, "items"), "must be specified"))
    errs.extend(_vs_invariants(items, _ITEM, _child(path, "items")))
    props = _d(s.get("properties"))
    for k, v in props.items():
        errs.extend(_vs_invariants(v, _FIELD, _key(_child(path, "properties"), k)))
    ap = s.get("additionalProperties")
    has_ap = isinstance(ap, bool | dict)
    if has_ap:
        if lvl == _ROOT:
            errs.append(_forbidden(_child(path, "additionalProperties"), "must not be used at the root"))
        if isinstance(ap, dict):
            errs.extend(_vs_invariants(ap, _FIELD, _child(path, "additionalProperties")))
    ios = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if ios and preserve:
        errs.append(
            _invalid(
                _child(path, "x-kubernetes-preserve-unknown-fields"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if ios and embedded:
        errs.append(
            _invalid(
                _child(path, "x-kubernetes-embedded-resource"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    errs.extend(_vs_value_validation(s, _is_int_or_string_any_of(s), _is_int_or_string_all_of(s), lvl, path))
    check_meta = lvl == _ROOT or embedded
    if embedded and t != "object":
        msg = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(_required(_child(path, "type"), msg) if not t else _invalid(_child(path, "type"), t, msg))
    elif not t and not ios and not preserve:
        errs.append(_required(_child(path, "type"), _TYPE_EMPTY[lvl]))
    if embedded and has_ap:
        errs.append(
            _forbidden(
                _child(path, "additionalProperties"),
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if lvl == _ROOT and t and t != "object":
        errs.append(_invalid(_child(path, "type"), t, "must be object at the root"))
    pp = _child(path, "properties")
    for name in ("kind", "apiVersion"):
        if name in props and check_meta:
            kt = _s(_d(props[name]).get("type"))
            if kt != "string":
                errs.append(_invalid(_child(_key(pp, name), "type"), kt, "must be string"))
    if "metadata" in props:
        errs.extend(_vs_metadata(_d(props["metadata"]), check_meta, lvl, _key(pp, "metadata")))
    if embedded and not preserve and not props:
        errs.append(
            _required(
                _child(path, "properties"),
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )
    return errs


def _vs_metadata(m: dict[str, Any], check_meta: bool, lvl: int, path: str) -> list[Cause]:
    errs: list[Cause] = []
    t = _s(m.get("type"))
    if check_meta and t != "object":
        errs.append(_invalid(_child(path, "type"), t, "must be object"))
    if lvl == _ROOT:
        names = set(_d(m.get("properties")))
        cleared = (
            not names
            or names == {"name", "generateName"}
            or (len(names) == 1 and names <= {"name", "generateName"})
        )
        others = [
            k
            for k, v in m.items()
            if k not in ("type", "default", "properties", "example", "externalDocs") and not _is_zero(k, v)
        ]
        if not cleared or others:
            errs.append(
                _forbidden(
                    path,
                    "must not specify anything other than name and generateName, but metadata is "
                    "implicitly specified",
                )
            )
    return errs


def _vs_value_validation(
    v: dict[str, Any], skip_any: bool, skip_first_all_any: bool, lvl: int, path: str
) -> list[Cause]:
    errs: list[Cause] = []
    if not skip_any:
        for i, x in enumerate(_l(v.get("anyOf"))):
            errs.extend(_vs_nested(x, False, False, lvl, _index(_child(path, "anyOf"), i)))
    for i, x in enumerate(_l(v.get("allOf"))):
        errs.extend(
            _vs_nested(x, skip_first_all_any and i == 0, False, lvl, _index(_child(path, "allOf"), i))
        )
    for i, x in enumerate(_l(v.get("oneOf"))):
        errs.extend(_vs_nested(x, False, False, lvl, _index(_child(path, "oneOf"), i)))
    errs.extend(_vs_nested(v.get("not"), False, False, lvl, _child(path, "not")))
    pattern = _s(v.get("pattern"))
    if pattern:
        _, err = compile_go_regex(pattern)
        if err:
            errs.append(
                _invalid(
                    _child(path, "pattern"), pattern, f"must be a valid regular expression, but isn't: {err}"
                )
            )
    return errs


_NESTED_FORBIDDEN = (
    ("x-kubernetes-preserve-unknown-fields", lambda v: v is True, "must be false to be structural"),
    ("x-kubernetes-embedded-resource", lambda v: v is True, "must be false to be structural"),
    ("x-kubernetes-int-or-string", lambda v: v is True, "must be false to be structural"),
    ("x-kubernetes-list-map-keys", lambda v: v is not None and v != [], "must be empty to be structural"),
    ("x-kubernetes-list-type", lambda v: v is not None, "must be undefined to be structural"),
    ("x-kubernetes-map-type", lambda v: v is not None, "must be undefined to be structural"),
    ("x-kubernetes-validations", lambda v: bool(v), "must be empty to be structural"),
)


def _vs_nested(v: object, skip_any: bool, skip_all_any: bool, lvl: int, path: str) -> list[Cause]:
    if not isinstance(v, dict):
        return []
    errs = _vs_value_validation(v, skip_any, skip_all_any, lvl, path)
    errs.extend(_vs_nested(v.get("items"), False, False, lvl, _child(path, "items")))
    props = _d(v.get("properties"))
    for k, fld in props.items():
        errs.extend(_vs_nested(fld, False, False, _FIELD, _key(_child(path, "properties"), k)))
    if _s(v.get("type")):
        errs.append(_forbidden(_child(path, "type"), "must be empty to be structural"))
    if isinstance(v.get("additionalProperties"), bool | dict):
        errs.append(_forbidden(_child(path, "additionalProperties"), "must be undefined to be structural"))
    if v.get("default") is not None:
        errs.append(_forbidden(_child(path, "default"), "must be undefined to be structural"))
    if _s(v.get("title")):
        errs.append(_forbidden(_child(path, "title"), "must be empty to be structural"))
    if _s(v.get("description")):
        errs.append(_forbidden(_child(path, "description"), "must be empty to be structural"))
    if v.get("nullable") is True:
        errs.append(_forbidden(_child(path, "nullable"), "must be false to be structural"))
    for key, pred, msg in _NESTED_FORBIDDEN:
        if pred(v.get(key)):
            errs.append(_forbidden(_child(path, key), msg))
    if "metadata" in props:
        errs.append(
            _forbidden(
                _key(_child(path, "properties"), "metadata"), "must not be specified in a nested context"
            )
        )
    return errs


def _complete_vv(v: dict[str, Any], s: dict[str, Any] | None, spath: str, vpath: str) -> list[Cause]:
    errs = _complete_nested(v.get("not"), s, spath, _child(vpath, "not"))
    for key in ("allOf", "anyOf", "oneOf"):
        for i, x in enumerate(_l(v.get(key))):
            errs.extend(_complete_nested(x, s, spath, _index(_child(vpath, key), i)))
    return errs


def _complete_nested(v: object, s: dict[str, Any] | None, spath: str, vpath: str) -> list[Cause]:
    if not isinstance(v, dict):
        return []
    if s is None:
        return [_required(spath, f"because it is defined in {vpath}")]
    errs = _complete_vv(v, s, spath, vpath)
    items = s.get("items")
    errs.extend(
        _complete_nested(
            v.get("items"),
            items if isinstance(items, dict) else None,
            _child(spath, "items"),
            _child(vpath, "items"),
        )
    )
    sprops = _d(s.get("properties"))
    for k, vf in _d(v.get("properties")).items():
        sp = _key(_child(spath, "properties"), k)
        vp = _key(_child(vpath, "properties"), k)
        if k not in sprops:
            errs.append(_required(sp, f"because it is defined in {vp}"))
        else:
            errs.extend(_complete_nested(vf, _d(sprops[k]), sp, vp))
    return errs


def _validate_structural(schema: dict[str, Any], path: str) -> list[Cause]:
    """ValidateStructural: invariants and completeness, sorted by error text like upstream."""
    errs = _vs_invariants(schema, _ROOT, path)
    errs.extend(_complete_vv(schema, schema, path, path))
    errs.sort(key=_error_text)
    return errs


def _is_structural(schema: object) -> bool:
    return (
        isinstance(schema, dict)
        and _structural_init_error(schema) is None
        and not _validate_structural(schema, "")
    )


# =============================================================================================
# CRD validation: defaults (pkg/apiserver/schema/defaulting/validation.go)
# =============================================================================================


def _validate_defaults(
    path: str, raw: dict[str, Any], node: _Schema, inside_meta: bool, require_pruned: bool
) -> list[Cause]:
    errs: list[Cause] = []
    if node.embedded:
        inside_meta = False
    if node.has_default and not inside_meta:
        default = node.default
        dpath = _child(path, "default")
        if require_pruned:
            pruned = _copy(default)
            _prune(pruned, node, "", _Unknown())
            if not _deep_equal(pruned, default):
                errs.append(_invalid(dpath, default, "must not have unknown fields"))
        meta_errs = _validate_embedded(dpath, default, node)
        if meta_errs:
            errs.extend(meta_errs)
        else:
            errs.extend(_result_causes(dpath, _validate_node(node, default, "")))
    items = raw.get("items")
    if isinstance(items, dict) and node.items is not None:
        errs.extend(_validate_defaults(_child(path, "items"), items, node.items, inside_meta, require_pruned))
    props = _d(raw.get("properties"))
    for k, sub in node.properties.items():
        sub_inside = inside_meta or (node.embedded and k in _META_FIELDS)
        errs.extend(
            _validate_defaults(
                _key(_child(path, "properties"), k), _d(props.get(k)), sub, sub_inside, require_pruned
            )
        )
    return errs


# =============================================================================================
# CRD validation: the OpenAPI schema walk (ValidateCustomResourceDefinitionOpenAPISchema)
# =============================================================================================

_OPENAPI_V3_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_SUPPORTED_VALIDATION_REASONS = (
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
)
_NEWLINES_RE = re.compile(r"[\n\r]+")


class _Opts:
    """validationOptions of the CRD validation (ratcheted on update)."""

    __slots__ = (
        "allow_defaults",
        "require_atomic_set_type",
        "require_map_list_keys",
        "require_openapi_schema",
        "require_pruned_defaults",
        "require_recognized_conversion_review_version",
        "require_structural",
        "require_valid_property_type",
    )

    def __init__(self) -> None:
        self.allow_defaults = True
        self.require_recognized_conversion_review_version = True
        self.require_openapi_schema = True
        self.require_valid_property_type = True
        self.require_structural = True
        self.require_pruned_defaults = True
        self.require_atomic_set_type = True
        self.require_map_list_keys = True


class _SSV:
    """specStandardValidatorV3 state."""

    __slots__ = ("allow_defaults", "inside_meta", "reason", "valid_types")

    def __init__(self, allow_defaults: bool, reason: str, inside_meta: bool, valid_types: bool) -> None:
        self.allow_defaults = allow_defaults
        self.reason = reason
        self.inside_meta = inside_meta
        self.valid_types = valid_types

    def forbid_defaults(self, reason: str) -> _SSV:
        return _SSV(False, reason, self.inside_meta, self.valid_types)

    def in_meta(self) -> _SSV:
        return _SSV(self.allow_defaults, self.reason, True, self.valid_types)

    def validate(self, s: dict[str, Any], path: str) -> list[Cause]:
        errs: list[Cause] = []
        t = s.get("type")
        if self.valid_types and isinstance(t, str) and t and t not in _OPENAPI_V3_TYPES:
            errs.append(_not_supported(_child(path, "type"), t, _OPENAPI_V3_TYPES))
        if s.get("default") is not None and not self.allow_defaults:
            detail = "must not be set" + (" " + self.reason if self.reason else "")
            errs.append(_forbidden(_child(path, "default"), detail))
        if _s(s.get("id")):
            errs.append(_forbidden(_child(path, "id"), "id is not supported"))
        if _present(s.get("additionalItems")):
            errs.append(_forbidden(_child(path, "additionalItems"), "additionalItems is not supported"))
        if _d(s.get("patternProperties")):
            errs.append(_forbidden(_child(path, "patternProperties"), "patternProperties is not supported"))
        if _d(s.get("definitions")):
            errs.append(_forbidden(_child(path, "definitions"), "definitions is not supported"))
        if _present(s.get("dependencies")):
            errs.append(_forbidden(_child(path, "dependencies"), "dependencies is not supported"))
        if _present(s.get("$ref")):
            errs.append(_forbidden(_child(path, "$ref"), "$ref is not supported"))
        if t == "null":
            errs.append(
                _forbidden(_child(path, "type"), "type cannot be set to null, use nullable as an alternative")
            )
        if isinstance(s.get("items"), list) and s["items"]:
            errs.append(_forbidden(_child(path, "items"), "items must be a schema object and not an array"))
        if self.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
            errs.append(
                _forbidden(
                    _child(path, "x-kubernetes-embedded-resource"), "must not be used inside of resource meta"
                )
            )
        return errs


def _validate_openapi_schema(s: object, path: str, ssv: _SSV, is_root: bool, opts: _Opts) -> list[Cause]:
    if not isinstance(s, dict):
        return []
    errs = ssv.validate(s, path)
    if s.get("uniqueItems") is True:
        errs.append(
            _forbidden(
                _child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    props = _d(s.get("properties"))
    ap = s.get("additionalProperties")
    if isinstance(ap, bool | dict):
        if props and (ap is False or isinstance(ap, dict)):
            errs.append(
                _forbidden(
                    _child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        sub = (
            ssv.forbid_defaults("inside additionalProperties applying to object metadata")
            if ssv.inside_meta
            else ssv
        )
        errs.extend(_validate_openapi_schema(ap, _child(path, "additionalProperties"), sub, False, opts))
    embedded = s.get("x-kubernetes-embedded-resource") is True
    for name, prop in props.items():
        sub = ssv
        if (is_root or embedded) and name in _META_FIELDS:
            sub = sub.in_meta()
            if is_root:
                sub = sub.forbid_defaults(f"in top-level {name}")
        errs.extend(_validate_openapi_schema(prop, _key(_child(path, "properties"), name), sub, False, opts))
    errs.extend(_validate_openapi_schema(s.get("not"), _child(path, "not"), ssv, False, opts))
    for key in ("allOf", "oneOf", "anyOf"):
        for i, x in enumerate(_l(s.get(key))):
            errs.extend(_validate_openapi_schema(x, _index(_child(path, key), i), ssv, False, opts))
    for name, x in _d(s.get("definitions")).items():
        errs.extend(_validate_openapi_schema(x, _key(_child(path, "definitions"), name), ssv, False, opts))
    items = s.get("items")
    if isinstance(items, dict):
        errs.extend(_validate_openapi_schema(items, _child(path, "items"), ssv, False, opts))
    elif isinstance(items, list):
        for i, x in enumerate(items):
            errs.extend(_validate_openapi_schema(x, _index(_child(path, "items"), i), ssv, False, opts))
    for name, x in _d(s.get("dependencies")).items():
        errs.extend(_validate_openapi_schema(x, _key(_child(path, "dependencies"), name), ssv, False, opts))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(
            _invalid(_child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined")
        )
    t = _s(s.get("type"))
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and t != "object":
        msg = "must be object if x-kubernetes-map-type is specified"
        errs.append(_required(_child(path, "type"), msg) if not t else _invalid(_child(path, "type"), t, msg))
    if map_type is not None and map_type not in ("atomic", "granular"):
        errs.append(_not_supported(_child(path, "x-kubernetes-map-type"), map_type, ("atomic", "granular")))
    list_type = s.get("x-kubernetes-list-type")
    item_schema = items if isinstance(items, dict) else None
    if list_type is not None and t != "array":
        msg = "must be array if x-kubernetes-list-type is specified"
        errs.append(_required(_child(path, "type"), msg) if not t else _invalid(_child(path, "type"), t, msg))
    elif opts.require_atomic_set_type and list_type == "set" and item_schema is not None:
        it = _s(item_schema.get("type"))
        ilt = item_schema.get("x-kubernetes-list-type")
        imt = item_schema.get("x-kubernetes-map-type")
        msg = "must be atomic as item of a list with x-kubernetes-list-type=set"
        if it == "array" and ilt is not None and ilt != "atomic":
            errs.append(_invalid(_child(_child(path, "items"), "x-kubernetes-list-type"), ilt, msg))
        elif it == "object" and (imt is None or imt != "atomic"):
            errs.append(_invalid(_child(_child(path, "items"), "x-kubernetes-map-type"), ilt, msg))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(
            _not_supported(_child(path, "x-kubernetes-list-type"), list_type, ("atomic", "set", "map"))
        )
    keys = s.get("x-kubernetes-list-map-keys")
    if isinstance(keys, list) and keys:
        msg = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(_required(_child(path, "x-kubernetes-list-type"), msg))
        elif list_type != "map":
            errs.append(_invalid(_child(path, "x-kubernetes-list-type"), list_type, msg))
    if list_type == "map":
        if not (isinstance(keys, list) and keys):
            errs.append(
                _required(
                    _child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
        if items is None:
            errs.append(
                _required(_child(path, "items"), "must have a schema if x-kubernetes-list-type is map")
            )
        if isinstance(items, list):
            errs.append(
                _invalid(
                    _child(path, "items"),
                    items,
                    "must only have a single schema if x-kubernetes-list-type is map",
                )
            )
        if item_schema is not None and _s(item_schema.get("type")) != "object":
            errs.append(
                _invalid(
                    _child(_child(path, "items"), "type"),
                    _s(item_schema.get("type")),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        if item_schema is not None and item_schema.get("type") == "object":
            iprops = _d(item_schema.get("properties"))
            seen: set[str] = set()
            for k in _l(keys):
                if not isinstance(k, str):
                    continue
                if k in iprops:
                    if _s(_d(iprops[k]).get("type")) in ("array", "object"):
                        errs.append(
                            _invalid(
                                _child(_key(_child(_child(path, "items"), "properties"), k), "type"),
                                "object",
                                "must be a scalar type if parent array's x-kubernetes-list-type is map",
                            )
                        )
                else:
                    errs.append(
                        _invalid(
                            _child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "entries must all be names of item properties",
                        )
                    )
                if k in seen:
                    errs.append(
                        _invalid(
                            _child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "must not contain duplicate entries",
                        )
                    )
                seen.add(k)
    if opts.require_map_list_keys:
        errs.extend(_validate_map_list_keys_map_set(s, path))
    errs.extend(_validate_x_validations(s, path))
    return errs


def _validate_map_list_keys_map_set(s: dict[str, Any], path: str) -> list[Cause]:
    items = s.get("items")
    list_type = s.get("x-kubernetes-list-type")
    if not isinstance(items, dict) or list_type not in ("set", "map"):
        return []
    errs: list[Cause] = []
    ip = _child(path, "items")
    if items.get("nullable") is True:
        errs.append(
            _forbidden(
                _child(ip, "nullable"), f"cannot be nullable when x-kubernetes-list-type is {list_type}"
            )
        )
    if list_type == "map":
        required = set(k for k in _l(items.get("required")) if isinstance(k, str))
        props = _d(items.get("properties"))
        for k in _l(s.get("x-kubernetes-list-map-keys")):
            if not isinstance(k, str) or k not in props:
                continue
            prop = _d(props[k])
            kp = _key(_child(ip, "properties"), k)
            if k not in required and prop.get("default") is None:
                errs.append(
                    _required(
                        _child(kp, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a "
                        "required property",
                    )
                )
            if prop.get("nullable") is True:
                errs.append(
                    _forbidden(
                        _child(kp, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    )
                )
    return errs


def _validate_x_validations(s: dict[str, Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, rule in enumerate(_l(s.get("x-kubernetes-validations"))):
        r = _d(rule)
        rp = _index(_child(path, "x-kubernetes-validations"), i)
        text, msg, msg_expr = _s(r.get("rule")), _s(r.get("message")), _s(r.get("messageExpression"))
        t_rule, t_msg = text.strip(), msg.strip()
        if not t_rule:
            errs.append(_required(_child(rp, "rule"), "rule is not specified"))
        elif msg and not t_msg:
            errs.append(_invalid(_child(rp, "message"), msg, "message must be non-empty if specified"))
        elif _NEWLINES_RE.search(t_msg):
            errs.append(_invalid(_child(rp, "message"), msg, "message must not contain line breaks"))
        elif _NEWLINES_RE.search(t_rule) and not t_msg:
            errs.append(
                _required(_child(rp, "message"), "message must be specified if rule contains line breaks")
            )
        if msg_expr and not msg_expr.strip():
            errs.append(
                _required(_child(rp, "messageExpression"), "messageExpression must be non-empty if specified")
            )
        reason = r.get("reason")
        if reason is not None and reason not in _SUPPORTED_VALIDATION_REASONS:
            errs.append(_not_supported(_child(rp, "reason"), reason, _SUPPORTED_VALIDATION_REASONS))
        fp = _s(r.get("fieldPath"))
        if fp and not fp.strip():
            errs.append(_invalid(_child(rp, "fieldPath"), fp, "fieldPath must be non-empty if specified"))
        if _NEWLINES_RE.search(fp):
            errs.append(_invalid(_child(rp, "fieldPath"), fp, "fieldPath must not contain line breaks"))
    return errs


# Go field order of apiextensions.JSONSchemaProps, for the status-subresource root check.
_ROOT_FIELD_ORDER = (
    ("id", "ID"),
    ("$schema", "Schema"),
    ("$ref", "Ref"),
    ("description", "Description"),
    ("type", "Type"),
    ("nullable", "Nullable"),
    ("format", "Format"),
    ("title", "Title"),
    ("default", "Default"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("enum", "Enum"),
    ("maxProperties", "MaxProperties"),
    ("minProperties", "MinProperties"),
    ("required", "Required"),
    ("items", "Items"),
    ("allOf", "AllOf"),
    ("oneOf", "OneOf"),
    ("anyOf", "AnyOf"),
    ("not", "Not"),
    ("properties", "Properties"),
    ("additionalProperties", "AdditionalProperties"),
    ("patternProperties", "PatternProperties"),
    ("dependencies", "Dependencies"),
    ("additionalItems", "AdditionalItems"),
    ("definitions", "Definitions"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"),
    ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"),
    ("x-kubernetes-validations", "XValidations"),
)
_ALLOWED_AT_ROOT = (
    "Description",
    "Type",
    "Format",
    "Title",
    "Maximum",
    "ExclusiveMaximum",
    "Minimum",
    "ExclusiveMinimum",
    "MaxLength",
    "MinLength",
    "Pattern",
    "MaxItems",
    "MinItems",
    "UniqueItems",
    "MultipleOf",
    "Required",
    "Items",
    "Properties",
    "ExternalDocs",
    "Example",
    "XPreserveUnknownFields",
    "XValidations",
)


def _root_field_set(key: str, v: object) -> bool:
    if v is None:
        return False
    if key in _VALUE_FIELDS:
        return v is not False and v != ""
    return True


def _validate_validation(validation: object, status_enabled: bool, opts: _Opts, path: str) -> list[Cause]:
    """validateCustomResourceDefinitionValidation for one CustomResourceValidation."""
    if not isinstance(validation, dict):
        return []
    schema = validation.get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return []
    sp = _child(path, "openAPIV3Schema")
    errs: list[Cause] = []
    if status_enabled:
        for key, go_name in _ROOT_FIELD_ORDER:
            if not _root_field_set(key, schema.get(key)):
                continue
            if go_name == "Type":
                if schema.get("type") != "object":
                    errs.append(
                        _invalid(
                            _child(path, "openAPIV3Schema.type"),
                            schema.get("type"),
                            'only "object" is allowed as the type at the root of the schema if the status '
                            "subresource is enabled",
                        )
                    )
                    break
                continue
            if go_name not in _ALLOWED_AT_ROOT:
                errs.append(
                    _invalid(
                        sp,
                        schema,
                        f"only [{' '.join(_ALLOWED_AT_ROOT)}] fields are allowed at the root of the schema "
                        "if the status subresource is enabled",
                    )
                )
                break
    if schema.get("nullable") is True:
        errs.append(
            _forbidden(_child(path, "openAPIV3Schema.nullable"), "nullable cannot be true at the root")
        )
    ssv = _SSV(opts.allow_defaults, "", False, opts.require_valid_property_type)
    init_errs: list[Cause] = []
    if opts.require_structural:
        init_err = _structural_init_error(schema)
        if init_err is not None:
            init_errs.append(_invalid(sp, "", init_err))
        else:
            structural = _validate_structural(schema, sp)
            if structural:
                errs.extend(structural)
            else:
                root = _embedded_root(_Schema(schema))
                errs.extend(_validate_defaults(sp, schema, root, False, opts.require_pruned_defaults))
    errs.extend(_validate_openapi_schema(schema, sp, ssv, True, opts))
    if not errs and init_errs:
        errs.extend(init_errs)
    if not errs and opts.require_structural:  # rules compile only on a valid structural schema
        errs.extend(_celrules.schema_errors(schema, sp))
    return errs


# =============================================================================================
# CRD validation: spec, versions, names, subresources, columns, conversion (validation.go)
# =============================================================================================

_PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_PRINTER_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
_ACCEPTED_REVIEW_VERSIONS = ("v1", "v1beta1")
_NAME_MISMATCH = 'must be spec.names.plural+"."+spec.group'
_APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
_WEBHOOK_UNSUPPORTED = (
    'conversion webhooks are not supported by this API server; use strategy "None" '
    "(served versions are converted by rewriting apiVersion)"
)


def _go_string_slice(v: object) -> str:
    if v is None:
        return "[]string(nil)"
    items = v if isinstance(v, list) else [v]
    return (
        "[]string{" + ", ".join(_go_quote(x) if isinstance(x, str) else _go_sharp_v(x) for x in items) + "}"
    )


def _invalid_go(path: str, go_text: str, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_text}: {detail}", path)


def _go_ptr(type_name: str, v: object) -> str:
    return f"(*{type_name})(nil)" if v is None else f"(*{type_name})(0xc000000000)"


def _go_versions(versions: list[dict[str, Any]]) -> str:
    """%#v of []apiextensions.CustomResourceDefinitionVersion (pointers cannot match upstream)."""
    parts = []
    for v in versions:
        dw = v.get("deprecationWarning")
        cols = v.get("additionalPrinterColumns")
        sel = v.get("selectableFields")
        parts.append(
            "apiextensions.CustomResourceDefinitionVersion{"
            f"Name:{_go_quote(_s(v.get('name')))}, Served:{'true' if v.get('served') is True else 'false'}, "
            f"Storage:{'true' if v.get('storage') is True else 'false'}, "
            f"Deprecated:{'true' if v.get('deprecated') is True else 'false'}, "
            f"DeprecationWarning:{_go_ptr('string', dw)}, "
            f"Schema:{_go_ptr('apiextensions.CustomResourceValidation', v.get('schema'))}, "
            f"Subresources:{_go_ptr('apiextensions.CustomResourceSubresources', v.get('subresources'))}, "
            "AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition"
            + ("(nil)" if not cols else "{...}")
            + ", SelectableFields:[]apiextensions.SelectableField"
            + ("(nil)" if not sel else "{...}")
            + "}"
        )
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(parts) + "}"


_HOISTED = (
    ("schema", "validation"),
    ("subresources", "subresources"),
    ("additionalPrinterColumns", "additionalPrinterColumns"),
    ("selectableFields", "selectableFields"),
)


def _semantic_equal(a: object, b: object, slice_field: bool) -> bool:
    if slice_field and not a and not b and (a is None or a == []) and (b is None or b == []):
        return True
    return a == b


def _internal_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Convert_v1_CustomResourceDefinitionSpec_To_apiextensions: per-version fields that are
    identical in every version move to the top level (and leave the versions)."""
    versions = [dict(v) if isinstance(v, dict) else {} for v in _l(spec.get("versions"))]
    out: dict[str, Any] = {"versions": versions}
    for _, top in _HOISTED:
        out[top] = None
    if versions:
        for field, top in _HOISTED:
            slice_field = field in ("additionalPrinterColumns", "selectableFields")
            first = versions[0].get(field)
            if all(_semantic_equal(v.get(field), first, slice_field) for v in versions):
                out[top] = first
                for v in versions:
                    v.pop(field, None)
    return out


def _has_status(subresources: object) -> bool:
    return isinstance(subresources, dict) and subresources.get("status") is not None


def _validate_enum_string(path: str, value: object, accepted: tuple[str, ...]) -> list[Cause]:
    if value is None or value == "":
        return [_required(path)]
    if value not in accepted:
        return [_not_supported(path, value, accepted)]
    return []


def _validate_names(names: dict[str, Any], path: str) -> list[Cause]:
    """ValidateCustomResourceDefinitionNames."""
    errs: list[Cause] = []
    for key in ("plural", "singular"):
        v = names.get(key)
        if isinstance(v, str) and v:
            msgs = is_dns1035_label(v)
            if msgs:
                errs.append(_invalid(_child(path, key), v, ",".join(msgs)))
    for key in ("kind", "listKind"):
        v = names.get(key)
        if isinstance(v, str) and v:
            msgs = is_dns1035_label(v.lower())
            if msgs:
                errs.append(
                    _invalid(
                        _child(path, key),
                        v,
                        "may have mixed case, but should otherwise match: " + ",".join(msgs),
                    )
                )
    for i, short in enumerate(_l(names.get("shortNames"))):
        msgs = is_dns1035_label(short) if isinstance(short, str) else ["must be a string"]
        if msgs:
            errs.append(_invalid(_index(_child(path, "shortNames"), i), short, ",".join(msgs)))
    kind = names.get("kind")
    if isinstance(kind, str) and kind and kind == names.get("listKind"):
        errs.append(
            _invalid(_child(path, "listKind"), names.get("listKind"), "kind and listKind may not be the same")
        )
    for i, cat in enumerate(_l(names.get("categories"))):
        msgs = is_dns1035_label(cat) if isinstance(cat, str) else ["must be a string"]
        if msgs:
            errs.append(_invalid(_index(_child(path, "categories"), i), cat, ",".join(msgs)))
    return errs


def _validate_simple_json_path(s: str, path: str) -> list[Cause]:
    if not s:
        return [_invalid(path, s, "must not be empty")]
    if s[0] != ".":
        return [_invalid(path, s, "must be a simple json path starting with .")]
    return []


def _validate_subresources(sub: object, path: str) -> list[Cause]:
    """ValidateCustomResourceDefinitionSubresources."""
    if not isinstance(sub, dict):
        return []
    scale = sub.get("scale")
    if not isinstance(scale, dict):
        return []
    errs: list[Cause] = []
    for key, prefix, where in (
        ("specReplicasPath", (".spec.",), "should be a json path under .spec"),
        ("statusReplicasPath", (".status.",), "should be a json path under .status"),
    ):
        p = _child(path, f"scale.{key}")
        v = _s(scale.get(key))
        if not v:
            errs.append(_required(p))
            continue
        path_errs = _validate_simple_json_path(v, p)
        if path_errs:
            errs.extend(path_errs)
        elif not v.startswith(prefix):
            errs.append(_invalid(p, v, where))
    sel = scale.get("labelSelectorPath")
    if isinstance(sel, str) and sel:
        p = _child(path, "scale.labelSelectorPath")
        path_errs = _validate_simple_json_path(sel, p)
        if path_errs:
            errs.extend(path_errs)
        elif not sel.startswith((".spec.", ".status.")):
            errs.append(_invalid(p, sel, "should be a json path under either .spec or .status"))
    return errs


def _validate_column(col: dict[str, Any], path: str) -> list[Cause]:
    """ValidateCustomResourceColumnDefinition."""
    errs: list[Cause] = []
    if not _s(col.get("name")):
        errs.append(_required(_child(path, "name")))
    t = col.get("type")
    must = "must be one of " + ",".join(_PRINTER_COLUMN_TYPES)
    if not t:
        errs.append(_required(_child(path, "type"), must))
    elif t not in _PRINTER_COLUMN_TYPES:
        errs.append(_invalid(_child(path, "type"), t, must))
    fmt = col.get("format")
    if fmt and fmt not in _PRINTER_COLUMN_FORMATS:
        errs.append(
            _invalid(_child(path, "format"), fmt, "must be one of " + ",".join(_PRINTER_COLUMN_FORMATS))
        )
    jp = _s(col.get("jsonPath"))
    if not jp:
        errs.append(_required(_child(path, "JSONPath")))
    else:
        errs.extend(_validate_simple_json_path(jp, _child(path, "JSONPath")))
    return errs


def _validate_selectable_fields(fields: list[Any], schema: object, path: str) -> list[Cause]:
    """ValidateCustomResourceSelectableFields (the path must name a string, boolean or integer
    property, not under metadata; at most 8)."""
    errs: list[Cause] = []
    unique: set[str] = set()
    for i, f in enumerate(fields):
        ip = _index(path, i)
        jp = _s(_d(f).get("jsonPath"))
        if not jp:
            errs.append(_required(_child(ip, "jsonPath")))
            continue
        parts = jp.removeprefix(".").split(".") if jp.startswith(".") else []
        node: object = schema
        for part in parts:
            node = _d(_d(node).get("properties")).get(part) if part else None
            if node is None:
                break
        if not parts or node is None or any(not p for p in parts):
            errs.append(
                _invalid(_child(ip, "jsonPath"), jp, "is an invalid path: does not refer to a valid field")
            )
            continue
        if parts[0] == "metadata":
            errs.append(_invalid(_child(ip, "jsonPath"), jp, "must not point to fields in metadata"))
        if _s(_d(node).get("type")) not in ("string", "boolean", "integer"):
            errs.append(
                _invalid(
                    _child(ip, "jsonPath"),
                    jp,
                    "must point to a field of type string, boolean or integer. Enum string fields and "
                    "strings with formats are allowed.",
                )
            )
        key = ".".join(parts)
        if key in unique:
            errs.append(_duplicate(_child(ip, "jsonPath"), jp))
        unique.add(key)
    if len(unique) > 8:
        errs.append(_too_many(path, len(unique), 8))
    return errs


def _validate_deprecation_warning(deprecated: bool, warning: object) -> list[str]:
    if not deprecated and warning is not None:
        return ["can only be set for deprecated versions"]
    if not isinstance(warning, str):
        return []
    out: list[str] = []
    if len(warning.encode()) > 256:
        out.append("must be <= 256 characters long")
    if not warning:
        out.append("must not be an empty string")
    offset = 0
    for ch in warning:
        if unicodedata.category(ch) == "Cc":
            out.append(
                f"must only contain printable UTF-8 characters; control character found at index {offset}"
            )
            break
        if not ch.isprintable() and ch != " ":
            out.append(
                "must only contain printable UTF-8 characters; non-printable character found at index "
                f"{offset}"
            )
            break
        offset += len(ch.encode("utf-8", "surrogatepass"))
    return out


def _validate_version(v: dict[str, Any], path: str, status_enabled: bool, opts: _Opts) -> list[Cause]:
    """validateCustomResourceDefinitionVersion."""
    errs: list[Cause] = []
    for msg in _validate_deprecation_warning(v.get("deprecated") is True, v.get("deprecationWarning")):
        errs.append(_invalid(_child(path, "deprecationWarning"), v.get("deprecationWarning"), msg))
    errs.extend(_validate_validation(v.get("schema"), status_enabled, opts, _child(path, "schema")))
    errs.extend(_validate_subresources(v.get("subresources"), _child(path, "subresources")))
    for i, col in enumerate(_l(v.get("additionalPrinterColumns"))):
        errs.extend(_validate_column(_d(col), _index(_child(path, "additionalPrinterColumns"), i)))
    sel = _l(v.get("selectableFields"))
    if sel:
        schema = _d(v.get("schema")).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(
                _invalid(
                    _child(path, "selectableFields"),
                    "",
                    "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
                )
            )
        else:
            errs.extend(_validate_selectable_fields(sel, schema, _child(path, "selectableFields")))
    return errs


def _parse_webhook_url(url: str) -> tuple[str, str, str, str, str] | None:
    from urllib.parse import urlsplit

    try:
        u = urlsplit(url)
        _ = u.port
    except ValueError:
        return None
    return u.scheme, u.netloc.rpartition("@")[2], u.netloc.rpartition("@")[0], u.fragment, u.query


def _validate_conversion(conversion: object, require_recognized: bool, path: str) -> list[Cause]:
    """validateCustomResourceConversion, plus the Forbidden cause for webhooks (not supported)."""
    if not isinstance(conversion, dict):
        return []
    errs: list[Cause] = []
    strategy = conversion.get("strategy")
    errs.extend(_validate_enum_string(_child(path, "strategy"), strategy, ("None", "Webhook")))
    webhook = _d(conversion.get("webhook"))
    cc = webhook.get("clientConfig")
    crv = webhook.get("conversionReviewVersions")
    ccp = _child(path, "webhookClientConfig")
    if strategy == "Webhook":
        if not isinstance(cc, dict):
            errs.append(_required(ccp, "required when strategy is set to Webhook"))
        else:
            url, svc = cc.get("url"), cc.get("service")
            if (url is None) == (svc is None):
                errs.append(_required(ccp, "exactly one of url or service is required"))
            elif isinstance(url, str):
                errs.extend(_validate_webhook_url(_child(ccp, "url"), url))
            elif isinstance(svc, dict):
                errs.extend(_validate_webhook_service(_child(ccp, "service"), svc))
        rp = _child(path, "conversionReviewVersions")
        versions = _l(crv)
        if not versions:
            errs.append(_required(rp))
        else:
            seen: set[Any] = set()
            accepted = False
            for i, ver in enumerate(versions):
                key = _set_key(ver)
                if key in seen:
                    errs.append(_invalid(_index(rp, i), ver, "duplicate version"))
                    continue
                seen.add(key)
                for msg in is_dns1035_label(ver) if isinstance(ver, str) else ["must be a string"]:
                    errs.append(_invalid(_index(rp, i), ver, msg))
                if ver in _ACCEPTED_REVIEW_VERSIONS:
                    accepted = True
            if require_recognized and not accepted:
                errs.append(
                    _invalid_go(
                        rp,
                        _go_string_slice(versions),
                        "must include at least one of " + ", ".join(_ACCEPTED_REVIEW_VERSIONS),
                    )
                )
        errs.append(_forbidden(_child(path, "strategy"), _WEBHOOK_UNSUPPORTED))
    else:
        if cc is not None:
            errs.append(_forbidden(ccp, "should not be set when strategy is not set to Webhook"))
        if crv:
            errs.append(
                _forbidden(
                    _child(path, "conversionReviewVersions"),
                    "should not be set when strategy is not set to Webhook",
                )
            )
    return errs


def _validate_webhook_url(path: str, url: str) -> list[Cause]:
    form = "; desired format: https://host[/path]"
    parsed = _parse_webhook_url(url)
    if parsed is None:
        return [_required(path, "url must be a valid URL: invalid URL" + form)]
    scheme, host, user, fragment, query = parsed
    errs: list[Cause] = []
    if scheme != "https":
        errs.append(_invalid(path, scheme, "'https' is the only allowed URL scheme" + form))
    if not host:
        errs.append(_invalid(path, host, "host must be specified" + form))
    if user:
        errs.append(_invalid(path, user, "user information is not permitted in the URL"))
    if fragment:
        errs.append(_invalid(path, fragment, "fragments are not permitted in the URL"))
    if query:
        errs.append(_invalid(path, query, "query parameters are not permitted in the URL"))
    return errs


def _validate_webhook_service(path: str, svc: dict[str, Any]) -> list[Cause]:
    # upstream passes (name, namespace) into the (namespace, name) parameters; kept as is
    errs: list[Cause] = []
    if not _s(svc.get("namespace")):
        errs.append(_required(_child(path, "name"), "service name is required"))
    if not _s(svc.get("name")):
        errs.append(_required(_child(path, "namespace"), "service namespace is required"))
    port = svc.get("port", 443)
    if not _is_int(port) or not 1 <= port <= 65535:
        errs.append(
            _invalid(_child(path, "port"), port, "port is not valid: must be between 1 and 65535, inclusive")
        )
    p = svc.get("path")
    if isinstance(p, str) and p not in ("", "/"):
        pp = _child(path, "path")
        if p == "//":
            return [*errs, _invalid(pp, p, "segment[0] may not be empty")]
        if not p.startswith("/"):
            errs.append(_invalid(pp, p, "must start with a '/'"))
        check = p[1:]
        if check.endswith("/"):
            check = check[:-1]
        for i, step in enumerate(check.split("/")):
            if not step:
                errs.append(_invalid(pp, p, f"segment[{i}] may not be empty"))
                continue
            for failure in is_dns1123_subdomain(step):
                errs.append(_invalid(pp, p, f"segment[{i}]: {failure}"))
    return errs


def _schema_has(schema: object, pred: Callable[[dict[str, Any]], bool]) -> bool:
    """SchemaHas: pred on every node (items, allOf/anyOf/oneOf/not, properties, additionalProperties,
    patternProperties, additionalItems, definitions, dependencies)."""
    if not isinstance(schema, dict):
        return False
    if pred(schema):
        return True
    items = schema.get("items")
    for sub in items if isinstance(items, list) else [items]:
        if _schema_has(sub, pred):
            return True
    for key in ("allOf", "anyOf", "oneOf"):
        if any(_schema_has(x, pred) for x in _l(schema.get(key))):
            return True
    for key in ("not", "additionalProperties", "additionalItems"):
        if _schema_has(schema.get(key), pred):
            return True
    for key in ("properties", "patternProperties", "definitions", "dependencies"):
        if any(_schema_has(x, pred) for x in _d(schema.get(key)).values()):
            return True
    return False


def _spec_schemas(ispec: dict[str, Any]) -> list[Any]:
    out = [_d(ispec.get("validation")).get("openAPIV3Schema")]
    out.extend(_d(v.get("schema")).get("openAPIV3Schema") for v in ispec["versions"])
    return [s for s in out if isinstance(s, dict)]


def _spec_has(ispec: dict[str, Any], pred: Callable[[dict[str, Any]], bool]) -> bool:
    return any(_schema_has(s, pred) for s in _spec_schemas(ispec))


def _validate_spec(spec: dict[str, Any], opts: _Opts) -> list[Cause]:
    """validateCustomResourceDefinitionSpec on the internal form of a v1 spec."""
    ispec = _internal_spec(spec)
    versions: list[dict[str, Any]] = ispec["versions"]
    errs: list[Cause] = []
    group = spec.get("group")
    if not group:
        errs.append(_required("spec.group"))
    elif not isinstance(group, str):
        errs.append(_invalid("spec.group", group, "must be a string"))
    elif msgs := is_dns1123_subdomain(group):
        errs.append(_invalid("spec.group", group, ",".join(msgs)))
    elif len(group.split(".")) < 2:
        errs.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    errs.extend(_validate_enum_string("spec.scope", spec.get("scope"), ("Cluster", "Namespaced")))
    preserve = spec.get("preserveUnknownFields") is True
    if not preserve:
        opts.require_structural = True
    top_schema = _d(ispec.get("validation")).get("openAPIV3Schema")
    if opts.require_openapi_schema:
        if not isinstance(top_schema, dict):
            for i, v in enumerate(versions):
                if not isinstance(_d(v.get("schema")).get("openAPIV3Schema"), dict):
                    errs.append(
                        _required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")
                    )
    elif not preserve and not isinstance(top_schema, dict):
        for i, v in enumerate(versions):
            if v.get("served") is True and not isinstance(_d(v.get("schema")).get("openAPIV3Schema"), dict):
                errs.append(
                    _required(
                        f"spec.versions[{i}].schema.openAPIV3Schema",
                        "because otherwise all fields are pruned",
                    )
                )
    if opts.allow_defaults and _spec_has(ispec, lambda s: s.get("default") is not None):
        opts.require_structural = True
        if preserve:
            errs.append(
                _invalid(
                    "spec.preserveUnknownFields", True, "must be false in order to use defaults in the schema"
                )
            )
    storage = 0
    names: set[Any] = set()
    unique = True
    top_sub = ispec.get("subresources")
    per_version_sub = any(v.get("subresources") is not None for v in versions)
    for i, v in enumerate(versions):
        if v.get("storage") is True:
            storage += 1
        name = v.get("name")
        key = _set_key(name)
        if key in names:
            unique = False
        names.add(key)
        msgs = is_dns1035_label(name) if isinstance(name, str) else ["must be a string"]
        if msgs:
            errs.append(_invalid(f"spec.versions[{i}].name", name, ",".join(msgs)))
        sub = v.get("subresources") if per_version_sub else top_sub
        errs.extend(_validate_version(v, f"spec.versions[{i}]", _has_status(sub), opts))
    if not unique:
        errs.append(_invalid_go("spec.versions", _go_versions(versions), "must contain unique version names"))
    if storage != 1:
        errs.append(
            _invalid_go(
                "spec.versions",
                _go_versions(versions),
                "must have exactly one version marked as storage version",
            )
        )
    if versions:
        first = versions[0].get("name")
        if isinstance(first, str) and first and (msgs := is_dns1035_label(first)):
            errs.append(_invalid("spec.version", first, ",".join(msgs)))
    names_spec = _d(spec.get("names"))
    for key in ("plural", "singular", "kind", "listKind"):
        if not names_spec.get(key):
            errs.append(_required(f"spec.names.{key}"))
    errs.extend(_validate_names(names_spec, "spec.names"))
    any_status = _has_status(top_sub) or any(_has_status(v.get("subresources")) for v in versions)
    errs.extend(_validate_validation(ispec.get("validation"), any_status, opts, "spec.validation"))
    errs.extend(_validate_subresources(top_sub, "spec.subresources"))
    for i, col in enumerate(_l(ispec.get("additionalPrinterColumns"))):
        errs.extend(_validate_column(_d(col), f"spec.additionalPrinterColumns[{i}]"))
    sel = _l(ispec.get("selectableFields"))
    if sel:
        if not isinstance(top_schema, dict):
            errs.append(
                _invalid(
                    "spec.selectableFields",
                    "",
                    "selectableFields may only be set when validations.schema is included",
                )
            )
        else:
            errs.extend(_validate_selectable_fields(sel, top_schema, "spec.selectableFields"))
    conversion = spec.get("conversion")
    if isinstance(conversion, dict) and conversion.get("strategy") != "None" and preserve:
        errs.append(
            _invalid(
                "spec.conversion.strategy",
                conversion.get("strategy"),
                "must be None if spec.preserveUnknownFields is true",
            )
        )
    errs.extend(
        _validate_conversion(conversion, opts.require_recognized_conversion_review_version, "spec.conversion")
    )
    return errs


def _validate_stored_versions(stored: object, versions: list[Any]) -> list[Cause]:
    path = "status.storedVersions"
    stored_list = stored if isinstance(stored, list) else None
    if not stored_list:
        return [_invalid_go(path, _go_string_slice(stored_list), "must have at least one stored version")]
    errs: list[Cause] = []
    remaining: dict[Any, int] = {}
    for i, v in enumerate(stored_list):
        remaining[_set_key(v)] = i
    for v in versions:
        vd = _d(v)
        key = _set_key(vd.get("name"))
        ok = key in remaining
        if vd.get("storage") is True and not ok:
            errs.append(
                _invalid_go(
                    path, _go_string_slice(stored_list), "must have the storage version " + _s(vd.get("name"))
                )
            )
        if ok:
            del remaining[key]
    for i in sorted(remaining.values()):
        v = stored_list[i]
        name = v if isinstance(v, str) else _go_v(v)
        errs.append(
            _invalid(
                _index(path, i),
                v,
                f"missing from spec.versions; {name} was previously a storage version, and must remain in "
                f"spec.versions until a storage migration ensures no data remains persisted in {name} and "
                f"removes {name} from status.storedVersions",
            )
        )
    return errs


def _is_protected_group(group: str) -> bool:
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def _approval_state(annotations: dict[str, Any]) -> tuple[str, str]:
    value = annotations.get(_APPROVAL_ANNOTATION)
    annotation = value if isinstance(value, str) else ""
    if not annotation:
        return "missing", (
            f"protected groups must have approval annotation {_go_quote(_APPROVAL_ANNOTATION)}, "
            "see https://github.com/kubernetes/enhancements/pull/1111"
        )
    if annotation.startswith("unapproved"):
        return "bypassed", f"not approved: {_go_quote(annotation)}"
    from urllib.parse import urlsplit

    try:
        u = urlsplit(annotation)
        is_url = bool(u.scheme) and bool(u.netloc) and (annotation.startswith(("/",)) or ":" in annotation)
    except ValueError:
        is_url = False
    if is_url:
        return "approved", f"approved in {annotation}"
    return "invalid", (
        f"protected groups must have approval annotation {_go_quote(_APPROVAL_ANNOTATION)} with either a "
        "URL or a "
        'reason starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111'
    )


def _validate_api_approval(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    group = _d(new.get("spec")).get("group")
    if not isinstance(group, str) or not _is_protected_group(group):
        return []
    new_state, reason = _approval_state(_d(_d(new.get("metadata")).get("annotations")))
    if old is not None:
        old_state, _ = _approval_state(_d(_d(old.get("metadata")).get("annotations")))
        if old_state == new_state:
            return []
    path = f"metadata.annotations[{_APPROVAL_ANNOTATION}]"
    if new_state == "missing":
        return [_required(path, reason)]
    if new_state == "invalid":
        return [
            _invalid(path, _d(_d(new.get("metadata")).get("annotations")).get(_APPROVAL_ANNOTATION), reason)
        ]
    return []


def _validate_preserve_unknown_fields(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    if old is not None and _d(old.get("spec")).get("preserveUnknownFields") is True:
        return []
    if _d(new.get("spec")).get("preserveUnknownFields") is True:
        return [
            _invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        ]
    return []


def _stored_versions_for(crd: dict[str, Any]) -> list[Any]:
    """status.storedVersions as the create strategy leaves it (the storage version)."""
    status = _d(crd.get("status"))
    stored = status.get("storedVersions")
    if isinstance(stored, list) and stored:
        return stored
    for v in _l(_d(crd.get("spec")).get("versions")):
        if _d(v).get("storage") is True:
            return [_d(v).get("name")]
    return []


def _meta_causes(crd: dict[str, Any]) -> list[Cause]:
    """ValidateObjectMeta with the CRD name rule: a DNS subdomain equal to <plural>.<group>."""
    spec = _d(crd.get("spec"))
    required = f"{_s(_d(spec.get('names')).get('plural'))}.{_s(spec.get('group'))}"
    causes = validate_object_meta(crd, CRD_RESOURCE_TYPE, is_create=True, url_namespace=None)
    meta = _d(crd.get("metadata"))
    gen = [c for c in causes if c.field == "metadata.generateName"]
    name = [c for c in causes if c.field == "metadata.name"]
    rest = [c for c in causes if c.field not in ("metadata.generateName", "metadata.name")]
    generate_name = meta.get("generateName")
    if isinstance(generate_name, str) and generate_name and generate_name != required:
        gen.append(_invalid("metadata.generateName", generate_name, _NAME_MISMATCH))
    n = meta.get("name")
    if isinstance(n, str) and n and n != required:
        name.append(_invalid("metadata.name", n, _NAME_MISMATCH))
    return gen + name + rest


def validate_crd(crd: dict[str, Any]) -> list[Cause]:
    """The causes kube-apiserver 1.32 reports when ``crd`` (a decoded apiextensions.k8s.io/v1
    CustomResourceDefinition, after ``default_crd``/``prepare_crd_for_create``) is created:
    metadata (name must be ``<plural>.<group>``), spec (group, scope, names, versions, schemas
    with the structural rules, defaults, subresources, printer columns, selectable fields,
    conversion), status.acceptedNames, status.storedVersions, the api-approved annotation of
    protected groups and spec.preserveUnknownFields. Never raises; an empty list means valid.
    Turn a non-empty list into the 422 with ``errors.invalid("CustomResourceDefinition",
    "apiextensions.k8s.io", name, causes)``."""
    if not isinstance(crd, dict):
        return [_invalid("", "", "expected a CustomResourceDefinition object")]
    try:
        spec = _d(crd.get("spec"))
        causes = _meta_causes(crd)
        causes.extend(_validate_spec(spec, _Opts()))
        causes.extend(_validate_names(_d(_d(crd.get("status")).get("acceptedNames")), "status.acceptedNames"))
        causes.extend(_validate_stored_versions(_stored_versions_for(crd), _l(spec.get("versions"))))
        causes.extend(_validate_api_approval(crd, None))
        causes.extend(_validate_preserve_unknown_fields(crd, None))
        return causes
    except RecursionError:
        return [_invalid("spec", "", "the schema is nested too deeply")]


def _established(crd: dict[str, Any]) -> bool:
    for c in _l(_d(crd.get("status")).get("conditions")):
        if _d(c).get("type") == "Established" and _d(c).get("status") == "True":
            return True
    return False


def _update_opts(old: dict[str, Any]) -> _Opts:
    """The ratcheting of ValidateCustomResourceDefinitionUpdate: checks the stored CRD already
    fails are not enforced on its updates."""
    opts = _Opts()
    ospec = _d(old.get("spec"))
    ispec = _internal_spec(ospec)
    conv = _d(ospec.get("conversion"))
    crv = _l(_d(conv.get("webhook")).get("conversionReviewVersions"))
    opts.require_recognized_conversion_review_version = not crv or any(
        v in _ACCEPTED_REVIEW_VERSIONS for v in crv
    )
    top = _d(ispec.get("validation")).get("openAPIV3Schema")
    opts.require_openapi_schema = isinstance(top, dict) or all(
        isinstance(_d(v.get("schema")).get("openAPIV3Schema"), dict) for v in ispec["versions"]
    )
    opts.require_valid_property_type = not _spec_has(
        ispec,
        lambda s: isinstance(s.get("type"), str) and bool(s["type"]) and s["type"] not in _OPENAPI_V3_TYPES,
    )
    opts.require_structural = all(_is_structural(s) for s in _spec_schemas(ispec))
    opts.require_atomic_set_type = not _spec_has(ispec, _has_non_atomic_set_type)
    opts.require_map_list_keys = not _spec_has(ispec, lambda s: bool(_validate_map_list_keys_map_set(s, "")))
    opts.require_pruned_defaults = not any(_has_unpruned_defaults(s) for s in _spec_schemas(ispec))
    return opts


def _has_non_atomic_set_type(s: dict[str, Any]) -> bool:
    items = s.get("items")
    if s.get("x-kubernetes-list-type") != "set" or not isinstance(items, dict):
        return False
    t = items.get("type")
    if t == "array":
        lt = items.get("x-kubernetes-list-type")
        return lt is not None and lt != "atomic"
    if t == "object":
        return items.get("x-kubernetes-map-type") != "atomic"
    return False


def _has_unpruned_defaults(schema: dict[str, Any]) -> bool:
    if not _schema_has(schema, lambda s: s.get("default") is not None) or not _is_structural(schema):
        return False
    root = _embedded_root(_Schema(schema))
    return any(
        c.message.endswith("must not have unknown fields")
        for c in _validate_defaults("", schema, root, False, True)
    )


def validate_crd_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """The causes of an update (after ``prepare_crd_for_update``): the create rules, ratcheted for
    checks ``old`` already failed, plus the immutable fields (group, names.plural; scope and
    names.kind once the CRD is Established) and storedVersions that must stay listed.
    metadata update rules (name, uid, resourceVersion...) are the caller's generic checks."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return [_invalid("", "", "expected a CustomResourceDefinition object")]
    try:
        spec, ospec = _d(new.get("spec")), _d(old.get("spec"))
        causes = _validate_spec(spec, _update_opts(old))
        immutable = [("spec.group", spec.get("group"), ospec.get("group"))]
        immutable.append(
            ("spec.names.plural", _d(spec.get("names")).get("plural"), _d(ospec.get("names")).get("plural"))
        )
        if _established(old):
            immutable.insert(
                0, ("spec.names.kind", _d(spec.get("names")).get("kind"), _d(ospec.get("names")).get("kind"))
            )
            immutable.insert(0, ("spec.scope", spec.get("scope"), ospec.get("scope")))
        for path, nv, ov in immutable:
            if nv != ov:
                causes.append(_invalid(path, nv, "field is immutable"))
        causes.extend(_validate_names(_d(_d(new.get("status")).get("acceptedNames")), "status.acceptedNames"))
        causes.extend(
            _validate_stored_versions(_d(new.get("status")).get("storedVersions"), _l(spec.get("versions")))
        )
        causes.extend(_validate_api_approval(new, old))
        causes.extend(_validate_preserve_unknown_fields(new, old))
        return causes
    except RecursionError:
        return [_invalid("spec", "", "the schema is nested too deeply")]


# =============================================================================================
# Defaulting and strategy of the CRD object itself
# =============================================================================================


def default_crd(crd: dict[str, Any]) -> None:
    """SetDefaults_CustomResourceDefinition (v1): names.singular = lower(kind), names.listKind =
    kind+"List", conversion {strategy: None}, webhook service port 443, storedVersions."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind")
        if not names.get("singular") and isinstance(kind, str):
            names["singular"] = kind.lower()
        if not names.get("listKind") and isinstance(kind, str) and kind:
            names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    svc = _d(_d(_d(_d(spec.get("conversion")).get("webhook")).get("clientConfig")).get("service"))
    if svc and svc.get("port") is None:
        svc["port"] = 443
    status = crd.get("status")
    if not _l(_d(status).get("storedVersions")):
        for v in _l(spec.get("versions")):
            if _d(v).get("storage") is True:
                if not isinstance(status, dict):
                    status = crd["status"] = {}
                status["storedVersions"] = [_d(v).get("name")]
                break


def prepare_crd_for_create(crd: dict[str, Any]) -> None:
    """Decode defaults plus the create strategy: status reset to {storedVersions: [storage
    version]}, metadata.generation = 1."""
    default_crd(crd)
    stored: list[Any] = []
    for v in _l(_d(crd.get("spec")).get("versions")):
        if _d(v).get("storage") is True:
            stored.append(_d(v).get("name"))
            break
    crd["status"] = {"storedVersions": stored} if stored else {}
    meta = crd.get("metadata")
    if isinstance(meta, dict):
        meta["generation"] = 1


def prepare_crd_for_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Decode defaults plus the update strategy: status kept from ``old`` (plus a new storage
    version), generation bumped when the spec changed."""
    default_crd(new)
    status = _copy(_d(old.get("status")))
    stored = status.setdefault("storedVersions", [])
    if not isinstance(stored, list):
        stored = status["storedVersions"] = []
    for v in _l(_d(new.get("spec")).get("versions")):
        if _d(v).get("storage") is True:
            if _d(v).get("name") not in stored:
                stored.append(_d(v).get("name"))
            break
    new["status"] = status
    meta = new.get("metadata")
    old_gen = _d(old.get("metadata")).get("generation")
    if isinstance(meta, dict):
        gen = old_gen if _is_int(old_gen) else 1
        if new.get("spec") != old.get("spec"):
            gen += 1
        meta["generation"] = gen


def established_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """The status the naming and establishing controllers leave on a CRD whose names do not
    conflict: acceptedNames = spec.names, NamesAccepted and Established conditions (``now`` is the
    RFC 3339 transition time), storedVersions kept."""
    names = _d(_d(crd.get("spec")).get("names"))
    accepted = {
        k: names[k]
        for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
        if names.get(k)
    }
    status = _copy(_d(crd.get("status")))
    status["acceptedNames"] = accepted
    status["conditions"] = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    status.setdefault("storedVersions", _stored_versions_for(crd))
    return status


# =============================================================================================
# JSONPath (the client-go util/jsonpath subset printer columns use)
# =============================================================================================


class _JSONPathError(Exception):
    """The path cannot be parsed (the column is dropped) or evaluation failed (the cell is null)."""


_JP_TERMINATORS = frozenset(" \t\n.[](){},'\"=!<>|&")
_JP_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")


class _Step:
    __slots__ = ("args", "kind")

    def __init__(self, kind: str, *args: Any) -> None:
        self.kind = kind
        self.args = args


def _parse_jsonpath(expr: str) -> list[_Step]:
    """Parses the inside of ``{...}``: ``.a.b``, ``['a.b']``, ``[0]``, ``[-1]``, ``[1:3]``, ``[*]``,
    ``.*``, ``..name``, ``[0,2]``, ``['a','b']``, ``[?(@.type=="Ready")]``, ``[?(@.x)]``."""
    steps: list[_Step] = []
    i = 0
    n = len(expr)
    while i < n:
        c = expr[i]
        if c in " \t\n" or (c in "$@" and i == 0):
            i += 1
        elif expr.startswith("..", i):
            steps.append(_Step("recursive"))
            i += 1  # the second dot starts the field that follows
        elif c == ".":
            i += 1
            if i < n and expr[i] == "*":
                steps.append(_Step("wild"))
                i += 1
                continue
            start = i
            name: list[str] = []
            while i < n and expr[i] not in _JP_TERMINATORS:
                if expr[i] == "\\" and i + 1 < n:
                    i += 1
                name.append(expr[i])
                i += 1
            if name:
                steps.append(_Step("field", "".join(name)))
            elif i < n and expr[i] not in ".[" and start < n:
                raise _JSONPathError(f"unrecognized character in action: {expr[i]!r}")
        elif c == "[":
            end = _find_bracket_end(expr, i)
            steps.append(_parse_bracket(expr[i + 1 : end].strip()))
            i = end + 1
        else:
            # a bare identifier: client-go parses it but cannot evaluate it
            start = i
            while i < n and expr[i] not in _JP_TERMINATORS:
                i += 1
            if i == start:
                raise _JSONPathError(f"unrecognized character in action: {c!r}")
            steps.append(_Step("identifier", expr[start:i]))
    return steps


def _find_bracket_end(expr: str, i: int) -> int:
    depth = 0
    quote = ""
    j = i
    while j < len(expr):
        ch = expr[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth == 0 and ch == "]":
                return j
        j += 1
    raise _JSONPathError("unterminated array")


def _parse_bracket(content: str) -> _Step:
    if not content:
        raise _JSONPathError("empty array index")
    if content == "*":
        return _Step("wild")
    if content.startswith("?"):
        return _parse_filter(content[1:].strip())
    if content[0] in "'\"":
        keys = []
        for part in _split_top(content, ","):
            part = part.strip()
            if len(part) < 2 or part[0] not in "'\"" or part[-1] != part[0]:
                raise _JSONPathError(f"invalid key {part!r}")
            keys.append(part[1:-1])
        return _Step("fields", keys)
    specs = []
    for part in content.split(","):
        pieces = part.strip().split(":")
        if len(pieces) > 3:
            raise _JSONPathError(f"invalid array index {part!r}")
        vals: list[int | None] = []
        for p in pieces:
            p = p.strip()
            if p == "":
                vals.append(None)
            elif re.fullmatch(r"-?\d+", p):
                vals.append(int(p))
            else:
                raise _JSONPathError(f"invalid array index {p!r}")
        specs.append((vals, len(pieces) > 1))
    return _Step("index", specs)


def _split_top(s: str, sep: str) -> list[str]:
    out, buf, quote = [], [], ""
    for ch in s:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == sep:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


def _parse_filter(content: str) -> _Step:
    if not (content.startswith("(") and content.endswith(")")):
        raise _JSONPathError("unclosed filter")
    body = content[1:-1].strip()
    quote = ""
    for i, ch in enumerate(body):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            continue
        for op in _JP_OPERATORS:
            if body.startswith(op, i):
                left = body[:i].strip()
                right = body[i + len(op) :].strip()
                return _Step("filter", _parse_operand(left), op, _parse_operand(right))
    return _Step("filter", _parse_operand(body), "exists", None)


def _parse_operand(text: str) -> tuple[str, Any]:
    if not text:
        raise _JSONPathError("empty filter operand")
    if text[0] in "'\"":
        if len(text) < 2 or text[-1] != text[0]:
            raise _JSONPathError("unterminated string")
        return ("literal", text[1:-1])
    if text.startswith(("@", "$", ".")):
        return ("path", _parse_jsonpath(text))
    if text in ("true", "false"):
        return ("literal", text == "true")
    if re.fullmatch(r"-?\d+", text):
        return ("literal", int(text))
    try:
        return ("literal", float(text))
    except ValueError:
        raise _JSONPathError(f"unrecognized filter operand {text!r}") from None


def _jp_descendants(v: JSON) -> list[Any]:
    out: list[Any] = []
    stack = [v]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            children = [cur[k] for k in sorted(cur, key=str)]
        elif isinstance(cur, list):
            children = list(cur)
        else:
            continue
        if children:
            out.append(cur)
            stack.extend(reversed(children))
    return out


def _jp_eval(steps: list[_Step], values: list[Any]) -> list[Any]:
    cur = values
    for st in steps:
        kind = st.kind
        if kind == "recursive":
            cur = [d for v in cur for d in _jp_descendants(v)]
        elif kind == "field":
            name = st.args[0]
            cur = [v[name] for v in cur if isinstance(v, dict) and name in v]
        elif kind == "fields":
            cur = [v[k] for k in st.args[0] for v in cur if isinstance(v, dict) and k in v]
        elif kind == "wild":
            nxt: list[Any] = []
            for v in cur:
                if isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v, key=str))
                elif isinstance(v, list):
                    nxt.extend(v)
            cur = nxt
        elif kind == "index":
            cur = _jp_index(st.args[0], cur)
        elif kind == "filter":
            cur = _jp_filter(st.args[0], st.args[1], st.args[2], cur)
        else:
            raise _JSONPathError(f"unrecognized identifier {st.args[0]}")
    return cur


def _jp_index(specs: list[tuple[list[int | None], bool]], values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise _JSONPathError(f"{_go_type(v)} is not array or slice")
        length = len(v)
        for vals, is_slice in specs:
            start = vals[0]
            if is_slice:
                end = vals[1] if len(vals) > 1 else None
                step = vals[2] if len(vals) > 2 else None
            else:
                end = (start + 1) if start is not None and start != -1 else None
                step = None
            s0 = 0 if start is None else start
            e0 = length if end is None else end
            if s0 < 0:
                s0 += length
            if e0 < 0:
                e0 += length
            if not is_slice and start == -1:
                e0 = s0 + 1
            if e0 != s0:
                if s0 >= length or s0 < 0:
                    raise _JSONPathError(f"array index out of bounds: index {s0}, length {length}")
                if e0 > length or e0 < 0:
                    raise _JSONPathError(f"array index out of bounds: index {e0 - 1}, length {length}")
                if s0 > e0:
                    raise _JSONPathError(f"starting index {s0} is greater than ending index {e0}")
            else:
                continue
            stride = 1 if step is None or step == 0 else step
            if stride < 0:
                raise _JSONPathError("negative step is not supported")
            out.extend(v[s0:e0:stride])
    return out


def _jp_kind(v: JSON) -> str:
    if isinstance(v, bool):
        return "bool"
    if _is_int(v):
        return "int"
    if _is_number(v):
        return "float"
    if isinstance(v, str):
        return "string"
    raise _JSONPathError("invalid type for comparison")


def _jp_compare(left: JSON, op: str, right: JSON) -> bool:
    kl, kr = _jp_kind(left), _jp_kind(right)
    if kl != kr:
        raise _JSONPathError("incompatible types for comparison")
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if kl == "bool":
        raise _JSONPathError("invalid type for comparison")
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _jp_operand(operand: tuple[str, Any], item: JSON) -> list[Any]:
    kind, value = operand
    if kind == "literal":
        return [value]
    return _jp_eval(value, [item])


def _jp_filter(left: tuple[str, Any], op: str, right: tuple[str, Any] | None, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise _JSONPathError(f"{_go_v(v)} is not array or slice and cannot be filtered")
        for item in v:
            lefts = _jp_operand(left, item)
            if op == "exists":
                if lefts:
                    out.append(item)
                continue
            if not lefts:
                continue
            if len(lefts) > 1:
                raise _JSONPathError("can only compare one element at a time")
            assert right is not None
            rights = _jp_operand(right, item)
            if not rights:
                continue
            if len(rights) > 1:
                raise _JSONPathError("can only compare one element at a time")
            if _jp_compare(lefts[0], op, rights[0]):
                out.append(item)
    return out


# =============================================================================================
# Printer columns (pkg/registry/customresource/tableconvertor)
# =============================================================================================

_DEFAULT_DESCRIPTIONS = {c["name"]: c["description"] for c in _builtin_column_definitions("", "\x00none")}
_NAME_DESCRIPTION = _DEFAULT_DESCRIPTIONS.get("Name", "")
_CREATED_DESCRIPTION = _DEFAULT_DESCRIPTIONS.get("Created At", "")

RowFunction = Callable[[dict[str, Any], datetime], list[Any]]


def _parse_rfc3339(s: str) -> datetime | None:
    """metav1.Time.UnmarshalQueryParameter: time.Parse(time.RFC3339, s)."""
    if len(s) < 20 or s[10] != "T" or (s[-1] != "Z" and s[-6] not in "+-"):
        return None
    text = s[:-1] + "+00:00" if s[-1] == "Z" else s
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}", text):
        return None
    frac = re.search(r"\.(\d+)", text)
    if frac is not None and len(frac.group(1)) > 6:
        text = text[: frac.start(1) + 6] + text[frac.end(1) :]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _date_cell(value: str, now: datetime) -> str:
    if value == "" or value == "null":
        return "<unknown>"
    t = _parse_rfc3339(value)
    if t is None:
        return "<invalid>"
    if t.year == 1 and t.month == 1 and t.day == 1 and t.hour == 0 and t.minute == 0 and t.second == 0:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def _string_cell(value: JSON) -> str:
    """jsonpath PrintResults of one value: JSON for maps and lists, fmt.Sprint otherwise."""
    if isinstance(value, dict | list):
        return _go_json(value)
    if value is None:
        return "<no value>"
    return _go_v(value)


def _cell(col_type: str, value: JSON, now: datetime) -> JSON:
    """cellForJSONValue (string columns print any value)."""
    if col_type == "string":
        return _string_cell(value)
    if value is None:
        return None
    if col_type == "integer":
        if _is_int(value):
            return value
        if _is_number(value):
            return _go_int(_as_float(value))
        return None
    if col_type == "number":
        return _as_float(value) if _is_number(value) else None
    if col_type == "boolean":
        return value if isinstance(value, bool) else None
    if col_type == "date":
        return _date_cell(value, now) if isinstance(value, str) else None
    return None


def printer_columns(crd_version: dict[str, Any]) -> tuple[list[dict[str, Any]], RowFunction]:
    """The Table columns of a custom resource version and the function computing one row's cells.

    Columns: ``Name`` then the version's additionalPrinterColumns; when the version defines none,
    a single ``Age`` column (type date, ``.metadata.creationTimestamp``), as the CRD handler does.
    A column whose jsonPath does not parse ends the list (upstream keeps the columns before it).
    ``row_fn(obj, now)`` returns ``[name, *cells]``: a missing value is None, string columns print
    any value (maps/lists as JSON), integer/number/boolean cells keep only values of their type,
    date cells are ages (``5m``), ``<unknown>`` for an empty time and ``<invalid>`` for a bad one.
    """
    raw_cols = [c for c in _l(_d(crd_version).get("additionalPrinterColumns")) if isinstance(c, dict)]
    if not raw_cols:
        raw_cols = [
            {
                "name": "Age",
                "type": "date",
                "description": _CREATED_DESCRIPTION,
                "jsonPath": ".metadata.creationTimestamp",
            }
        ]
    columns: list[dict[str, Any]] = [
        {"name": "Name", "type": "string", "format": "name", "description": _NAME_DESCRIPTION, "priority": 0}
    ]
    paths: list[tuple[str, list[_Step]]] = []
    for col in raw_cols:
        jp = _s(col.get("jsonPath"))
        try:
            steps = _parse_jsonpath(jp)
        except (_JSONPathError, RecursionError):
            break
        desc = _s(col.get("description")) or f"Custom resource definition column (in JSONPath format): {jp}"
        priority = col.get("priority")
        columns.append(
            {
                "name": _s(col.get("name")),
                "type": _s(col.get("type")),
                "format": _s(col.get("format")),
                "description": desc,
                "priority": priority if _is_int(priority) else 0,
            }
        )
        paths.append((_s(col.get("type")), steps))

    def row(obj: dict[str, Any], now: datetime) -> list[Any]:
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
        o = obj if isinstance(obj, dict) else {}
        cells: list[Any] = [_s(_d(o.get("metadata")).get("name"))]
        for col_type, steps in paths:
            try:
                results = _jp_eval(steps, [o])
            except (_JSONPathError, RecursionError):
                cells.append(None)
                continue
            cells.append(_cell(col_type, results[0], now) if results else None)
        return cells

    return columns, row


# =============================================================================================
# Resource types and versions
# =============================================================================================

_KUBE_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?\Z")
_VERSION_TYPE_RANK = {"alpha": 0, "beta": 1, None: 2}


def _kube_version_key(v: str) -> tuple[int, int, int, int, str]:
    """Sort key of version.CompareKubeAwareVersionStrings (GA > beta > alpha, higher first; other
    strings after, alphabetically)."""
    m = _KUBE_VERSION_RE.match(v)
    if m is None:
        return (1, 0, 0, 0, v)
    return (0, -_VERSION_TYPE_RANK[m.group(2)], -int(m.group(1)), -int(m.group(3) or 0), "")


def served_versions(crd: dict[str, Any]) -> list[str]:
    """The served versions, highest kube-aware priority first (discovery's order; the first is
    the preferred version)."""
    names = [
        _d(v).get("name")
        for v in _l(_d(crd.get("spec")).get("versions"))
        if _d(v).get("served") is True and isinstance(_d(v).get("name"), str)
    ]
    return sorted(names, key=_kube_version_key)  # type: ignore[arg-type]


def crd_resource_type(crd: dict[str, Any], version: str) -> ResourceType:
    """The ResourceType under which ``version`` of the CRD's resource is served: names, scope,
    short names and categories from spec.names, the version's status/scale subresources (scale
    answers autoscaling/v1 Scale), metadata.generation maintained, objects stored under
    ``/registry/<group>/<plural>/`` (one key space for all versions, as kube-apiserver does)."""
    spec = _d(crd.get("spec"))
    names = _d(spec.get("names"))
    group = _s(spec.get("group"))
    plural = _s(names.get("plural"))
    kind = _s(names.get("kind"))
    subresources: list[Subresource] = []
    sub = _d(_d(crd_version(crd, version)).get("subresources"))
    if sub.get("scale") is not None:
        subresources.append(Subresource("scale", STATUS_VERBS, "autoscaling", "v1", "Scale"))
    if sub.get("status") is not None:
        subresources.append(Subresource("status", STATUS_VERBS))
    rt = ResourceType(
        group,
        version,
        plural,
        _s(names.get("singular")) or kind.lower(),
        kind,
        spec.get("scope") == "Namespaced",
        tuple(s for s in _l(names.get("shortNames")) if isinstance(s, str)),
        tuple(c for c in _l(names.get("categories")) if isinstance(c, str)),
        verbs=ALL_VERBS,
        subresources=tuple(subresources),
        name_rule=DNS1123_SUBDOMAIN,
        name_max=253,
        has_generation=True,
    )
    wanted = f"/registry/{group}/{plural}/"
    if rt.key_prefix != wanted:
        # groups kube-apiserver keeps without a group segment for built-ins (e.g. a CRD in
        # networking.k8s.io): custom resources still live under /registry/<group>/<plural>/
        rt = ResourceType(
            rt.group,
            rt.version,
            rt.plural,
            rt.singular,
            rt.kind,
            rt.namespaced,
            rt.short_names,
            rt.categories,
            verbs=rt.verbs,
            subresources=rt.subresources,
            name_rule=rt.name_rule,
            name_max=rt.name_max,
            has_generation=True,
            storage_resource=f"{group}/{plural}",
        )
    return rt
