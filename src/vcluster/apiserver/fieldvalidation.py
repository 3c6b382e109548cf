"""Server-side field validation (`fieldValidation=Strict|Warn|Ignore`), as kube-apiserver does it.

kube-apiserver decodes request bodies with a strict JSON decoder (sigs.k8s.io/json `UnmarshalStrict`)
that reports, in document order, every key that has no struct field (`unknown field "spec.foo"`)
and every key seen twice in one object (`duplicate field "spec.paused"`); paths join keys with `.`
and indices as `[i]`, errors are de-duplicated and capped at 100. YAML bodies are first checked by
go-yaml's strict mode, whose duplicate keys form one error
(`yaml: unmarshal errors:\\n  line 5: key "name" already set in map`), and then decoded from the
key-sorted JSON that the YAML converts to, so their unknown fields come in sorted order.

What this module offers (the caller decides which applies to its request):

* `strict_problems(body, media_type, group, version, kind)`: POST/PUT of a built-in kind, the exact
  upstream list of problems (unknown and duplicate fields interleaved in document order).
* `unknown_fields(obj, group, version, kind)` / `unknown_field_problems(...)`: unknown fields of an
  already decoded object (after a patch: `sort_keys=True`, as the patched map is re-encoded sorted).
* `duplicate_field_problems(body)`: duplicates anywhere in a JSON body, as decoding into
  `map[string]interface{}` reports them (merge and strategic merge patches, custom resources).
* `json_patch_problems(body)`: `json patch unknown field "[0].foo"` / `json patch duplicate field`.
* `yaml_duplicate_errors(body)`: go-yaml's `line N: key "k" already set in map` lines.
* `structural_unknown_fields(obj, schema)`: unknown fields of a custom resource (pruning).
* `drop_unknown_fields(obj, group, version, kind)`: remove them (built-in kinds never store them).
* `apply_field_validation(mode, kind, version, problems)`: Strict -> 400, Warn -> warning texts,
  Ignore -> nothing; `patch_field_validation(...)` is the PATCH variant (422, as upstream).

Subtrees kube-apiserver does not decode field by field (RawExtension, FieldsV1, apiextensions
JSON and the JSONSchemaProps-or-X unions, all custom `UnmarshalJSON` types) are not checked.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import yaml

from vcluster.apiserver.errors import Cause, StatusError
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.schema import definition_for, definitions

STRICT = "Strict"
WARN = "Warn"
IGNORE = "Ignore"
MODES = (IGNORE, STRICT, WARN)
# sets.NewString("", Ignore, Warn, Strict).List(): the sorted list upstream prints.
_SUPPORTED_TEXT = '"", "Ignore", "Strict", "Warn"'
MAX_ERRORS = 100  # sigs.k8s.io/json saveStrictError stops accumulating at 100
_YAML_PREFIX = "yaml: unmarshal errors:\n  "

_REF = "#/$defs/"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Types with their own UnmarshalJSON: their content is never checked field by field.
_OPAQUE_DEFS = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    }
)


# ---------------------------------------------------------------------------- Go formatting
def _go_float(f: float) -> str:
    """Go's `%v` of a float64 (strconv 'g', shortest, exponent from 1e21 or below 1e-4)."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    try:
        d = Decimal(repr(f)).normalize()
    except InvalidOperation:  # pragma: no cover - repr of a finite float always parses
        return repr(f)
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits)) or "0"
    x = len(ds) + exp - 1  # decimal exponent of the leading digit
    prefix = "-" if sign else ""
    if f == 0:
        return prefix + "0"
    if -4 <= x < 21:
        if exp >= 0:
            return prefix + ds + "0" * exp
        point = len(ds) + exp
        if point > 0:
            return prefix + ds[:point] + "." + ds[point:]
        return prefix + "0." + "0" * (-point) + ds
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{prefix}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"


def go_sprint(value: Any) -> str:
    """Go's `fmt.Sprintf("%+v", v)` of decoded JSON data (map keys sorted, as fmt prints maps)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def warning_header(text: str) -> str:
    """One `Warning` header value as kube-apiserver writes it: `299 - "<text with \\" and \\\\ escaped>"`."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------- schema descriptors
# A descriptor says how the strict decoder treats a JSON value:
#   None          scalar or opaque: nothing inside is checked
#   ("s", _Struct) a Go struct: unknown keys and duplicate keys are reported
#   ("m", child)   a Go map: duplicate keys are reported, values checked with `child`
#   ("l", child)   a Go slice: every element checked with `child`
#   ("a",)         interface{}: duplicate keys reported everywhere below
Desc = tuple[Any, ...] | None
_ANY: tuple[str] = ("a",)


class _Struct:
    """The known JSON field names of a Go struct and how each field's value is decoded."""

    __slots__ = ("_fields", "_props")

    def __init__(self, props: dict[str, Any]) -> None:
        self._props = props
        self._fields: dict[str, Desc] | None = None

    @property
    def fields(self) -> dict[str, Desc]:
        if self._fields is None:  # built lazily: struct types refer to each other recursively
            self._fields = {k: _schema_desc(v) for k, v in self._props.items() if isinstance(v, dict)}
        return self._fields


@functools.cache
def _def_desc(name: str) -> Desc:
    if name in _OPAQUE_DEFS:
        return None
    d = definitions().get(name)
    if d is None:
        return None
    if isinstance(d.get("properties"), dict):
        return ("s", _Struct(d["properties"]))
    return _schema_desc(d)


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    t = schema.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list):
        return tuple(x for x in t if x != "null")
    return ()


def _schema_desc(schema: dict[str, Any]) -> Desc:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _def_desc(ref[len(_REF) :]) if ref.startswith(_REF) else None
    types = _types(schema)
    if "array" in types:
        items = schema.get("items")
        child = _schema_desc(items) if isinstance(items, dict) else None
        return ("l", child) if child is not None else None
    if "object" in types:
        if isinstance(schema.get("properties"), dict):
            return ("s", _Struct(schema["properties"]))
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict):
            return ("m", _schema_desc(ap))
    return None


def _kind_desc(group: str, version: str, kind: str) -> Desc:
    name = definition_for(group, version, kind)
    return _def_desc(name) if name else None


_JSON_PATCH_OP: Desc = (
    "s",
    _Struct({"op": {"type": "string"}, "path": {"type": "string"}, "from": {"type": "string"}, "value": {}}),
)
_JSON_PATCH_OP[1].fields["value"] = _ANY  # type: ignore[index]  # Value interface{} `json:"value"`


# ---------------------------------------------------------------------------- the strict walk
class _Pairs(dict[str, Any]):
    """A JSON object that repeated a key: the dict (last value wins) plus every pair in order."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    return d if len(d) == len(pairs) else _Pairs(pairs)


def _loads_with_pairs(body: bytes) -> Any:
    """The JSON document with objects that repeat keys kept as `_Pairs`; raises ValueError."""
    try:
        return json.loads(body, object_pairs_hook=_hook)
    except RecursionError:
        raise ValueError("too deeply nested") from None


class _Collector:
    __slots__ = ("items", "seen")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.seen: set[str] = set()

    def add(self, msg: str) -> None:
        if len(self.items) < MAX_ERRORS and msg not in self.seen:
            self.seen.add(msg)
            self.items.append(msg)

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _clean(value: Any, d: Any) -> bool:
    """True when walking `value` as `d` finds no problem: the fast path of `_walk` (no paths are
    built; a struct's keys are checked as one C-level set comparison). RecursionError on very
    deep input, where the caller falls back to the iterative walk."""
    cls = value.__class__
    tag = d[0]
    if cls is list:
        if tag == "l":
            child = d[1]
        elif tag == "a":
            child = d
        else:
            return True
        for v in value:
            c = v.__class__
            if (c is dict or c is list or c is _Pairs) and not _clean(v, child):
                return False
        return True
    if cls is _Pairs:
        return False
    if cls is not dict or tag == "l":
        return True
    if tag == "s":
        fields = d[1].fields
        if not fields.keys() >= value.keys():
            return False
        for k, v in value.items():
            c = v.__class__
            if c is dict or c is list or c is _Pairs:
                cd = fields[k]
                if cd is not None and not _clean(v, cd):
                    return False
        return True
    child = d[1] if tag == "m" else d
    if child is None:
        return True
    for v in value.values():
        c = v.__class__
        if (c is dict or c is list or c is _Pairs) and not _clean(v, child):
            return False
    return True


def _walk(
    root: Any, desc: Desc, *, sort_keys: bool = False, prefix: str = "", fast: bool = True
) -> list[str]:
    """Strict-decoder problems for `root` decoded as `desc`, in the decoder's order.

    Iterative (a stack of pending values and messages), so deeply nested input cannot exhaust the
    Python stack; objects carrying `_Pairs` are walked pair by pair to find duplicates. Input
    without problems (nearly all of it) takes the recursive fast path `_clean` first.
    """
    out = _Collector()
    if desc is None:
        return out.items
    try:
        if fast and _clean(root, desc):
            return out.items
    except RecursionError:
        pass
    stack: list[Any] = [(root, desc, "")]
    unknown = prefix + "unknown field "
    duplicate = prefix + "duplicate field "
    while stack and not out.full:
        item = stack.pop()
        if item.__class__ is str:
            out.add(item)
            continue
        value, d, path = item
        tag = d[0]
        if value.__class__ is list:
            if tag == "l":
                child = d[1]
            elif tag == "a":
                child = d
            else:
                continue
            stack.extend(
                (v, child, f"{path}[{i}]")
                for i, v in reversed(list(enumerate(value)))
                if v.__class__ is dict or v.__class__ is list or v.__class__ is _Pairs
            )
            continue
        if not isinstance(value, dict) or tag == "l":
            continue
        if value.__class__ is _Pairs:
            pairs: Any = value.pairs
        elif sort_keys:
            pairs = sorted(value.items())
        else:
            pairs = value.items()
        entries: list[Any] = []
        seen: set[str] | None = set() if value.__class__ is _Pairs else None
        if tag == "s":
            fields = d[1].fields
            for k, v in pairs:
                p = _join(path, k)
                if k not in fields:
                    entries.append(unknown + go_quote(p))
                    continue
                if seen is not None:
                    if k in seen:
                        entries.append(duplicate + go_quote(p))
                    else:
                        seen.add(k)
                cd = fields[k]
                if cd is not None and v is not None:
                    entries.append((v, cd, p))
        else:  # "m" (typed map) or "a" (interface{}): only duplicate keys
            child = d[1] if tag == "m" else d
            for k, v in pairs:
                p = _join(path, k)
                if seen is not None:
                    if k in seen:
                        entries.append(duplicate + go_quote(p))
                    else:
                        seen.add(k)
                if child is not None and v is not None:
                    entries.append((v, child, p))
        stack.extend(reversed(entries))
    return out.items


# ---------------------------------------------------------------------------- public: detection
def unknown_fields(
    obj: dict[str, Any], group: str, version: str, kind: str, *, sort_keys: bool = False
) -> list[str]:
    """Paths of the fields of `obj` that kind's Go type does not have (`spec.foo`,
    `spec.template.spec.containers[0].bogus`, `metadata.foo`), in the order the strict decoder
    meets them (`sort_keys=True`: the order of a key-sorted re-encoding, as after a patch or YAML).
    Unknown kinds (no built-in definition) give []."""
    msgs = _walk(obj, _kind_desc(group, version, kind), sort_keys=sort_keys)
    return [_unquote_path(m) for m in msgs if m.startswith("unknown field ")]


def unknown_field_problems(
    obj: dict[str, Any], group: str, version: str, kind: str, *, sort_keys: bool = False
) -> list[str]:
    """`unknown field "<path>"` messages for `obj` (see `unknown_fields`)."""
    return [
        m
        for m in _walk(obj, _kind_desc(group, version, kind), sort_keys=sort_keys)
        if m.startswith("unknown field ")
    ]


def drop_unknown_fields(obj: dict[str, Any], group: str, version: str, kind: str) -> int:
    """Remove, in place, every field the kind's Go type does not have, as decoding into the typed
    struct does whatever the fieldValidation mode (so unknown fields are never stored). Returns
    how many fields were removed. Unknown kinds are left alone."""
    desc = _kind_desc(group, version, kind)
    removed = 0
    try:
        if desc is not None and _clean(obj, desc):
            return 0  # nothing unknown (nearly always): no walk
    except RecursionError:
        pass
    stack: list[tuple[Any, Desc]] = [(obj, desc)] if desc is not None else []
    while stack:
        value, d = stack.pop()
        assert d is not None
        tag = d[0]
        if isinstance(value, list):
            if tag == "l" and d[1] is not None:
                stack.extend((v, d[1]) for v in value if isinstance(v, (dict, list)))
            continue
        if not isinstance(value, dict) or tag == "l":
            continue
        if tag == "s":
            fields = d[1].fields
            for k in [k for k in value if k not in fields]:
                del value[k]
                removed += 1
            stack.extend((v, fields[k]) for k, v in value.items() if fields[k] is not None and v is not None)
        elif tag == "m" and d[1] is not None:
            stack.extend((v, d[1]) for v in value.values() if isinstance(v, (dict, list)))
    return removed


def _unquote_path(msg: str) -> str:
    quoted = msg.split(" ", 2)[2]
    try:
        return json.loads(quoted)
    except ValueError:  # a Go escape JSON does not know (\x.., \a, \v, \U........)
        return quoted[1:-1]


def strict_problems(
    body: bytes,
    media_type: str,
    group: str,
    version: str,
    kind: str,
    obj: dict[str, Any] | None = None,
) -> list[str]:
    """Everything kube-apiserver's strict decoding reports for a POST/PUT body of a built-in kind.

    JSON (and no Content-Type): unknown and duplicate fields interleaved in document order.
    YAML: go-yaml's duplicate-key error first (one entry, `yaml: unmarshal errors:\\n  line ...`),
    then unknown fields in sorted-key order. `obj` is the already decoded body (used for YAML and
    as a fallback); a body that does not parse gives [] (decoding errors are the caller's)."""
    desc = _kind_desc(group, version, kind)
    if desc is None:
        return []
    if media_type in ("application/yaml", "text/yaml", "application/x-yaml"):
        problems: list[str] = []
        dups = yaml_duplicate_errors(body)
        if dups:
            problems.append(yaml_strict_error(dups))
        if obj is None:
            return problems
        problems.extend(m for m in _walk(obj, desc, sort_keys=True) if m not in problems)
        return problems[:MAX_ERRORS]
    if obj is not None and _encodes_to(obj, body):
        return _walk(obj, desc)  # the body is obj's own encoding: no key repeats in it
    try:
        root = _loads_with_pairs(body)
    except ValueError:
        root = obj
    if root is None:
        return []
    return _walk(root, desc)


def _encodes_to(obj: Any, body: bytes) -> bool:
    """Whether `body` is exactly orjson's encoding of `obj` (what our own client sends): then it
    decodes to obj and repeats no key (an encoded dict cannot), and the slower decoding that keeps
    repeated keys is not needed."""
    try:
        return orjson.dumps(obj) == body
    except (TypeError, orjson.JSONEncodeError):
        return False


def duplicate_field_problems(body: bytes, decoded: Any = None) -> list[str]:
    """`duplicate field "<path>"` for every repeated key anywhere in a JSON document, in order, as
    decoding into map[string]interface{} reports them (merge / strategic merge patch bodies,
    custom resources). Invalid JSON gives []. `decoded`: the body's decoding, when at hand (a
    body that is its encoding has no repeated key)."""
    if decoded is not None and _encodes_to(decoded, body):
        return []
    try:
        root = _loads_with_pairs(body)
    except ValueError:
        return []
    return _walk(root, _ANY)


def json_patch_problems(body: bytes) -> list[str]:
    """Strict problems of a JSON patch document, prefixed as upstream does
    (`json patch unknown field "[0].foo"`, `json patch duplicate field "[1].path"`,
    duplicates inside `value`s included). Not an array of objects / invalid JSON: []."""
    try:
        root = _loads_with_pairs(body)
    except ValueError:
        return []
    if not isinstance(root, list):
        return []
    return _walk(root, ("l", _JSON_PATCH_OP), prefix="json patch ")


# ---------------------------------------------------------------------------- YAML duplicates
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _go_yaml_key(value: Any) -> str:
    """go-yaml's `%#v` of a decoded map key."""
    if isinstance(value, str):
        return go_quote(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, int):
        return str(value)
    return go_quote(str(value))


def _key_identity(node: Any, constructor: Any) -> tuple[Any, ...] | None:
    """A hashable identity for a scalar key as go-yaml's map[interface{}]interface{} compares
    keys (type and value: 1, "1" and 1.0 are three keys); None for keys it cannot hash."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        value = constructor.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        value = node.value
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value).__name__, value)


def yaml_duplicate_errors(body: bytes) -> list[str]:
    """go-yaml strict mode's duplicate-key errors (`line 5: key "name" already set in map`), in its
    order: a value's own errors before the duplicate error for its key, the line being the value's.
    Aliased nodes are visited once. YAML that does not parse gives []."""
    try:
        root = yaml.compose(body, Loader=_YAML_LOADER)
    except (yaml.YAMLError, ValueError, RecursionError):
        return []
    if root is None:
        return []
    constructor = yaml.constructor.SafeConstructor()
    out: list[str] = []
    visited: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if id(item) in visited:
            continue
        visited.add(id(item))
        if isinstance(item, yaml.SequenceNode):
            stack.extend(reversed(item.value))
        elif isinstance(item, yaml.MappingNode):
            entries: list[Any] = []
            seen: set[tuple[Any, ...]] = set()
            for key_node, value_node in item.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merge keys are expanded by go-yaml, not checked as duplicates
                entries.append(value_node)
                ident = _key_identity(key_node, constructor)
                if ident is None:
                    continue
                if ident in seen:
                    line = value_node.start_mark.line + 1
                    entries.append(f"line {line}: key {_go_yaml_key(ident[1])} already set in map")
                else:
                    seen.add(ident)
            stack.extend(reversed(entries))
    return out


def yaml_strict_error(lines: list[str]) -> str:
    """go-yaml's TypeError text for these lines (one error, kept whole in a Strict message)."""
    return _YAML_PREFIX + "\n  ".join(lines)


# ---------------------------------------------------------------------------- custom resources
_META_FIELDS = ("apiVersion", "kind", "metadata")


def structural_unknown_fields(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Paths a custom resource's structural schema prunes, as upstream reports them: unknown
    fields of the root `metadata` (ObjectMeta is strict), then the pruned paths sorted, then
    unknown fields inside the metadata of `x-kubernetes-embedded-resource` objects.
    `schema` is the version's `openAPIV3Schema` (None: everything is preserved)."""
    meta = obj.get("metadata")
    head = (
        [
            _unquote_path(m)
            for m in _walk(meta, _def_desc(_OBJECT_META), sort_keys=True)
            if m.startswith("unknown field ")
        ]
        if isinstance(meta, dict)
        else []
    )
    head = [f"metadata.{p}" for p in head]
    pruned: list[str] = []
    embedded: list[str] = []
    if schema is not None:
        _prune(obj, schema, pruned, embedded)
    return head + sorted(pruned) + embedded


def _prune(root: Any, root_schema: dict[str, Any], pruned: list[str], embedded: list[str]) -> None:
    """apiextensions' pruning walk, recording instead of deleting (iterative)."""
    stack: list[tuple[Any, dict[str, Any] | None, str, bool]] = [(root, root_schema, "", True)]
    while stack:
        value, s, path, is_root = stack.pop()
        preserve = bool(s and s.get("x-kubernetes-preserve-unknown-fields"))
        if isinstance(value, dict):
            if s is None:
                pruned.extend(_join(path, k) for k in value)
                continue
            props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
            ap = s.get("additionalProperties")
            is_embedded = bool(s.get("x-kubernetes-embedded-resource"))
            for k, v in value.items():
                p = _join(path, k)
                if is_embedded and k in ("apiVersion", "kind") and isinstance(v, str):
                    continue
                if is_embedded and k == "metadata":
                    if isinstance(v, dict):
                        embedded.extend(
                            f"{p}.{_unquote_path(m)}"
                            for m in _walk(v, _def_desc(_OBJECT_META), sort_keys=True)
                            if m.startswith("unknown field ")
                        )
                    continue
                if k in props and isinstance(props[k], dict):
                    stack.append((v, props[k], p, False))
                elif isinstance(ap, dict):
                    stack.append((v, ap, p, False))
                elif preserve or ap is True:
                    continue
                elif not (is_root and k in _META_FIELDS):
                    pruned.append(p)
        elif isinstance(value, list):
            items = s.get("items") if s is not None else None
            if s is not None and not isinstance(items, dict) and preserve:
                continue
            for i, v in enumerate(value):
                stack.append((v, items if isinstance(items, dict) else None, f"{path}[{i}]", False))


# ---------------------------------------------------------------------------- public: decisions
def validate_mode(mode: str | None, options_kind: str = "CreateOptions") -> str:
    """The effective directive: absent or empty means Warn; anything else than Ignore/Strict/Warn is
    the 422 kube-apiserver's Validate{Create,Update,Patch}Options gives."""
    if mode is None or mode == "":
        return WARN
    if mode in MODES:
        return mode
    detail = f"Unsupported value: {go_quote(mode)}: supported values: {_SUPPORTED_TEXT}"
    return _raise_invalid_options(options_kind, detail)


def _raise_invalid_options(options_kind: str, detail: str) -> str:
    raise StatusError(
        422,
        "Invalid",
        f'{options_kind}.meta.k8s.io "" is invalid: fieldValidation: {detail}',
        {"group": "meta.k8s.io", "kind": options_kind},
        causes=[Cause("FieldValueNotSupported", detail, "fieldValidation")],
    )


def _warnings(problems: list[str]) -> list[str]:
    out: list[str] = []
    for p in problems:
        if p.startswith(_YAML_PREFIX):  # go-yaml's TypeError: one warning per line
            out.extend(p[len(_YAML_PREFIX) :].split("\n  "))
        else:
            out.append(p)
    return out


def apply_field_validation(
    mode: str | None,
    kind: str,
    version: str,
    problems: list[str],
    *,
    options_kind: str = "CreateOptions",
) -> list[str]:
    """Act on the strict-decoding problems of a POST/PUT body.

    Strict with problems -> StatusError 400 `<Kind> in version "<v>" cannot be handled as a <Kind>:
    strict decoding error: <problems joined by ", ">`; Warn (also absent) -> the warning texts, one
    per problem (go-yaml's duplicate lines split); Ignore -> []. An invalid mode -> 422 (see
    `validate_mode`; `options_kind` is CreateOptions for POST, UpdateOptions for PUT)."""
    mode = validate_mode(mode, options_kind)
    if mode == IGNORE or not problems:
        return []
    if mode == STRICT:
        raise StatusError(
            400,
            "BadRequest",
            f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: '
            + ", ".join(problems),
        )
    return _warnings(problems)


def patch_field_validation(mode: str | None, problems: list[str], invalid_value: str) -> list[str]:
    """Act on the problems of a PATCH (json/merge/strategic): Strict -> 422 as upstream's patcher
    (`"" is invalid: patch: Invalid value: "<value>": strict decoding error: ...`), where
    `invalid_value` is the patched object's JSON (json and merge patch) or `go_sprint(patch_map)`
    (strategic merge patch); Warn -> warning texts; Ignore -> []."""
    mode = validate_mode(mode, "PatchOptions")
    if mode == IGNORE or not problems:
        return []
    if mode == STRICT:
        detail = f"Invalid value: {go_quote(invalid_value)}: strict decoding error: " + ", ".join(problems)
        raise StatusError(
            422,
            "Invalid",
            f' "" is invalid: patch: {detail}',
            {},
            causes=[Cause("FieldValueInvalid", detail, "patch")],
        )
    return _warnings(problems)
