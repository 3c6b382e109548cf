"""Object-metadata validation with the rules and messages of kube-apiserver 1.32.

The detail strings are those of k8s.io/apimachinery/pkg/util/validation (IsDNS1123Subdomain,
IsDNS1123Label, IsDNS1035Label, IsQualifiedName, IsValidLabelValue), pkg/api/validation/path
(IsValidPathSegmentName) and pkg/api/validation/objectmeta.go (ValidateObjectMetaAccessor), so that
a 422 answer reads exactly like the real server's.

Go measures string lengths in bytes; so does this module (UTF-8), while staying on the fast path
for the usual all-ASCII input.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from .errors import Cause, field_invalid, field_required, field_too_long
from .resources import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, PATH_SEGMENT, ResourceType

__all__ = [
    "DNS1035_LABEL_MAX",
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "LABEL_VALUE_MAX",
    "QUALIFIED_NAME_MAX",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_valid_path_segment_name",
    "validate_annotations",
    "validate_label_value",
    "validate_labels",
    "validate_name",
    "validate_object_meta",
    "validate_qualified_name",
]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)  # 262144 bytes

# ---- upstream formats and messages (k8s.io/apimachinery/pkg/util/validation/validation.go)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"

_DNS1123_LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_ERR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_QNAME_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)

# fullmatch() is Go's "^...$" (Go's "$" never matches before a trailing newline).
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError: note the double space before each " or " (upstream quirk)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    parts = [msg, " (e.g. "]
    for i, ex in enumerate(examples):
        if i:
            parts.append(" or ")
        parts.append(f"'{ex}', ")
    parts.append(f"regex used for validation is '{fmt}')")
    return "".join(parts)


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


_EMPTY_ERROR = "must be non-empty"
_DNS1123_LABEL_REGEX_MSG = _regex_error(_DNS1123_LABEL_ERR, _DNS1123_LABEL_FMT, "my-name", "123-abc")
_DNS1123_SUBDOMAIN_REGEX_MSG = _regex_error(_DNS1123_SUBDOMAIN_ERR, _DNS1123_SUBDOMAIN_FMT, "example.com")
_DNS1035_LABEL_REGEX_MSG = _regex_error(_DNS1035_LABEL_ERR, _DNS1035_LABEL_FMT, "my-name", "abc-123")
_QNAME_REGEX_MSG = _regex_error(_QNAME_ERR, _QNAME_FMT, "MyName", "my.name", "123-abc")
_LABEL_VALUE_REGEX_MSG = _regex_error(_LABEL_VALUE_ERR, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
_QNAME_TOO_MANY_SLASHES = (
    "a qualified name "
    + _QNAME_REGEX_MSG
    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
)


def _blen(s: str) -> int:
    """Length in bytes, as Go's len()."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-8", "surrogatepass"))


# ---- apimachinery validators (each returns a list of detail strings; empty means valid)
def is_dns1123_label(value: str) -> list[str]:
    return list(_is_dns1123_label(value))


@functools.lru_cache(maxsize=4096)  # names recur (containers, volumes, the objects they refer to)
def _is_dns1123_label(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len_error(DNS1123_LABEL_MAX))
    if _DNS1123_LABEL_RE.fullmatch(value) is None:
        errs.append(_DNS1123_LABEL_REGEX_MSG)
    return tuple(errs)


def is_dns1123_subdomain(value: str) -> list[str]:
    return list(_is_dns1123_subdomain(value))


@functools.lru_cache(maxsize=4096)  # names recur (containers, volumes, the objects they refer to)
def _is_dns1123_subdomain(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len_error(DNS1123_SUBDOMAIN_MAX))
    if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is None:
        errs.append(_DNS1123_SUBDOMAIN_REGEX_MSG)
    return tuple(errs)


def is_dns1035_label(value: str) -> list[str]:
    return list(_is_dns1035_label(value))


@functools.lru_cache(maxsize=4096)  # names recur (containers, volumes, the objects they refer to)
def _is_dns1035_label(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > DNS1035_LABEL_MAX:
        errs.append(_max_len_error(DNS1035_LABEL_MAX))
    if _DNS1035_LABEL_RE.fullmatch(value) is None:
        errs.append(_DNS1035_LABEL_REGEX_MSG)
    return tuple(errs)


def is_valid_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """pkg/api/validation/path: IsValidPathSegmentName / IsValidPathSegmentPrefix."""
    if not prefix:
        if name == ".":
            return ["may not be '.'"]
        if name == "..":
            return ["may not be '..'"]
    errs: list[str] = []
    if "/" in name:
        errs.append("may not contain '/'")
    if "%" in name:
        errs.append("may not contain '%'")
    return errs


def validate_qualified_name(key: str) -> list[str]:
    """validation.IsQualifiedName: label and annotation keys, finalizer names."""
    return list(_qualified_name_errors(key))


@functools.lru_cache(maxsize=4096)  # the same label and annotation keys come back on every write
def _qualified_name_errors(key: str) -> tuple[str, ...]:
    return tuple(_qualified_name_check(key))


def _qualified_name_check(key: str) -> list[str]:
    parts = key.split("/")
    errs: list[str] = []
    if len(parts) == 1:
        name = key
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + _EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [_QNAME_TOO_MANY_SLASHES]
    if not name:
        errs.append("name part " + _EMPTY_ERROR)
    elif _blen(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len_error(QUALIFIED_NAME_MAX))
    if _QNAME_RE.fullmatch(name) is None:
        errs.append("name part " + _QNAME_REGEX_MSG)
    return errs


def validate_label_value(value: str) -> list[str]:
    """validation.IsValidLabelValue: empty is allowed."""
    return list(_label_value_errors(value))


@functools.lru_cache(maxsize=4096)
def _label_value_errors(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > LABEL_VALUE_MAX:
        errs.append(_max_len_error(LABEL_VALUE_MAX))
    if _LABEL_VALUE_RE.fullmatch(value) is None:
        errs.append(_LABEL_VALUE_REGEX_MSG)
    return tuple(errs)


# ---- object names
def _mask_trailing_dash(name: str) -> str:
    """apimachinery maskTrailingDash, quirk included: it replaces the last *two* bytes by 'a'."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


_RULE_VALIDATORS: dict[str, Callable[[str], list[str]]] = {
    DNS1123_SUBDOMAIN: is_dns1123_subdomain,
    DNS1123_LABEL: is_dns1123_label,
    DNS1035_LABEL: is_dns1035_label,
}
# The length limit each rule enforces by itself; RBAC path-segment names have none upstream.
_RULE_MAX: dict[str, int | None] = {
    DNS1123_SUBDOMAIN: DNS1123_SUBDOMAIN_MAX,
    DNS1123_LABEL: DNS1123_LABEL_MAX,
    DNS1035_LABEL: DNS1035_LABEL_MAX,
    PATH_SEGMENT: None,
}


def _rule_errors(name: str, rule: str, prefix: bool) -> list[str]:
    if rule == PATH_SEGMENT:
        return is_valid_path_segment_name(name, prefix)
    fn = _RULE_VALIDATORS.get(rule)
    if fn is None:
        raise ValueError(f"unknown name rule {rule!r}")
    return fn(_mask_trailing_dash(name) if prefix else name)


def _extra_length_error(name: str, rule: str, max_len: int) -> str | None:
    """A kind-specific limit tighter than the rule's own (CronJob 52, Job 63)."""
    rule_max = _RULE_MAX.get(rule)
    if rule_max is not None and max_len < rule_max and _blen(name) > max_len:
        return _max_len_error(max_len)
    return None


def validate_name(name: str, rule: str, max_len: int, *, prefix: bool = False) -> list[str]:
    """Error details for an object name under `rule` ("subdomain", "label", "dns1035",
    "path-segment"), as apimachinery's name validators return them (empty list = valid).

    `max_len` below the rule's own limit adds `must be no more than <max_len> characters` (the
    CronJob 52 check). `prefix=True` validates a generateName: a trailing '-' is allowed and the
    kind-specific limit is not applied, as upstream.
    """
    errs = _rule_errors(name, rule, prefix)
    if not prefix:
        extra = _extra_length_error(name, rule, max_len)
        if extra is not None:
            errs.append(extra)
    return errs


# ---- causes
def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates, ...
        try:
            return json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            return repr(value)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    """field_invalid that never raises, whatever `value` holds."""
    try:
        return field_invalid(path, value, detail)
    except TypeError:
        return Cause("FieldValueInvalid", f"Invalid value: {_json(value)}: {detail}", path)


def _type_invalid(path: str, value: Any, detail: str) -> Cause:
    """field.TypeInvalid (its body reads "Invalid value: ..." like field.Invalid)."""
    return Cause("FieldValueTypeInvalid", f"Invalid value: {_json(value)}: {detail}", path)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _key_path(path: str, key: str) -> str:
    return f"{path}[{key}]"


def validate_labels(labels: object, path: str = "metadata.labels") -> list[Cause]:
    """v1validation.ValidateLabels: key and value errors, all reported at `path`."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [_type_invalid(path, labels, f"expected map of string to string, got {_type_name(labels)}")]
    causes: list[Cause] = []
    for k, v in labels.items():
        if not isinstance(k, str):
            causes.append(_type_invalid(path, k, "label keys must be strings"))
            continue
        for msg in validate_qualified_name(k):
            causes.append(_invalid(path, k, msg))
        if not isinstance(v, str):
            causes.append(_type_invalid(_key_path(path, k), v, f"expected string, got {_type_name(v)}"))
            continue
        for msg in validate_label_value(v):
            causes.append(_invalid(path, v, msg))
    return causes


def validate_annotations(annotations: object, path: str = "metadata.annotations") -> list[Cause]:
    """ValidateAnnotations: keys are qualified names (case-insensitive), total size <= 256 KiB."""
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [
            _type_invalid(
                path, annotations, f"expected map of string to string, got {_type_name(annotations)}"
            )
        ]
    causes: list[Cause] = []
    total = 0
    ascii_only = True
    for k, v in annotations.items():
        if not isinstance(k, str):
            causes.append(_type_invalid(path, k, "annotation keys must be strings"))
            continue
        for msg in validate_qualified_name(k.lower()):
            causes.append(_invalid(path, k, msg))
        if not isinstance(v, str):
            causes.append(_type_invalid(_key_path(path, k), v, f"expected string, got {_type_name(v)}"))
            continue
        total += len(k) + len(v)
        if ascii_only and not (k.isascii() and v.isascii()):
            ascii_only = False
    if total > TOTAL_ANNOTATION_SIZE_LIMIT // 4 and not ascii_only:
        total = sum(
            _blen(k) + _blen(v) for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)
        )
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(field_too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _parse_api_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion as used by FromAPIVersionAndKind (errors give an empty GV)."""
    if not api_version:
        return "", ""
    n = api_version.count("/")
    if n == 0:
        return "", api_version
    if n == 1:
        group, version = api_version.split("/")
        return group, version
    return "", ""


def _validate_owner_references(refs: object, path: str) -> list[Cause]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [_type_invalid(path, refs, f"expected array, got {_type_name(refs)}")]
    causes: list[Cause] = []
    first_controller = ""
    for ref in refs:
        if not isinstance(ref, dict):
            causes.append(_type_invalid(path, ref, f"expected object, got {_type_name(ref)}"))
            continue
        api_version = ref.get("apiVersion") or ""
        kind = ref.get("kind") or ""
        name = ref.get("name") or ""
        uid = ref.get("uid") or ""
        group, version = _parse_api_version(api_version if isinstance(api_version, str) else "")
        if not version:
            causes.append(_invalid(path + ".apiVersion", api_version, "version must not be empty"))
        if not kind:
            causes.append(_invalid(path + ".kind", kind, "must not be empty"))
        if not name:
            causes.append(_invalid(path + ".name", name, "must not be empty"))
        if not uid:
            causes.append(_invalid(path + ".uid", uid, "must not be empty"))
        if group == "" and version == "v1" and kind == "Event":
            causes.append(_invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{name}"
            if first_controller:
                causes.append(
                    _invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in references '
                        f"for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return causes


_FINALIZER_ORPHAN = "orphan"
_FINALIZER_FOREGROUND = "foregroundDeletion"


def _validate_finalizers(finalizers: object, path: str) -> list[Cause]:
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [_type_invalid(path, finalizers, f"expected array, got {_type_name(finalizers)}")]
    causes: list[Cause] = []
    orphan = foreground = False
    for fin in finalizers:
        if not isinstance(fin, str):
            causes.append(_type_invalid(path, fin, f"expected string, got {_type_name(fin)}"))
            continue
        for msg in validate_qualified_name(fin):
            causes.append(_invalid(path, fin, msg))
        if fin == _FINALIZER_ORPHAN:
            orphan = True
        elif fin == _FINALIZER_FOREGROUND:
            foreground = True
    if orphan and foreground:
        causes.append(
            _invalid(
                path,
                finalizers,
                f"finalizer {_FINALIZER_ORPHAN} and {_FINALIZER_FOREGROUND} cannot be both set",
            )
        )
    return causes


def validate_object_meta(
    obj: dict, rt: ResourceType, *, is_create: bool, url_namespace: str | None, old: Any = None
) -> list[Cause]:
    """Causes for `metadata`, in the order of apimachinery's ValidateObjectMetaAccessor.

    On create: generateName (as a prefix), then name (required unless generateName is set; for
    output identical to kube-apiserver call this after generating the name), then the namespace
    of namespaced kinds (the body's, else `url_namespace`; required, and a DNS-1123 label),
    generation, labels, annotations, ownerReferences and finalizers. On update name and
    generateName are not checked (the server compares the name with the URL's).
    A kind-specific name-length limit (CronJob 52, Job 63) comes last, as upstream appends it
    after the rest of the object's validation. `old` (an update's stored metadata): labels,
    annotations, owner references and finalizers equal to old's passed when old was written and
    are not checked again.
    """
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        return [_type_invalid("metadata", meta, f"expected object, got {_type_name(meta)}")]
    causes: list[Cause] = []
    extra_len: str | None = None
    name = meta.get("name")

    if is_create:
        generate_name = meta.get("generateName")
        if generate_name:
            if isinstance(generate_name, str):
                for msg in _rule_errors(generate_name, rt.name_rule, True):
                    causes.append(_invalid("metadata.generateName", generate_name, msg))
            else:
                causes.append(
                    _type_invalid(
                        "metadata.generateName",
                        generate_name,
                        f"expected string, got {_type_name(generate_name)}",
                    )
                )
        if name is None or name == "":
            if not generate_name:
                causes.append(field_required("metadata.name", "name or generateName is required"))
        elif not isinstance(name, str):
            causes.append(_type_invalid("metadata.name", name, f"expected string, got {_type_name(name)}"))
        else:
            for msg in _rule_errors(name, rt.name_rule, False):
                causes.append(_invalid("metadata.name", name, msg))
            extra_len = _extra_length_error(name, rt.name_rule, rt.name_max)

    if rt.namespaced:
        ns = meta.get("namespace") or url_namespace or ""
        if not isinstance(ns, str):
            causes.append(_type_invalid("metadata.namespace", ns, f"expected string, got {_type_name(ns)}"))
        elif not ns:
            causes.append(field_required("metadata.namespace"))
        else:
            for msg in is_dns1123_label(ns):
                causes.append(_invalid("metadata.namespace", ns, msg))

    generation = meta.get("generation")
    if isinstance(generation, (int, float)) and not isinstance(generation, bool) and generation < 0:
        causes.append(_invalid("metadata.generation", generation, "must be greater than or equal to 0"))

    prev = old if isinstance(old, dict) and not is_create else {}
    labels = meta.get("labels")
    if labels is not None and labels != prev.get("labels"):
        causes.extend(validate_labels(labels))
    annotations = meta.get("annotations")
    if annotations is not None and annotations != prev.get("annotations"):
        causes.extend(validate_annotations(annotations))
    owner_refs = meta.get("ownerReferences")
    if owner_refs is not None and owner_refs != prev.get("ownerReferences"):
        causes.extend(_validate_owner_references(owner_refs, "metadata.ownerReferences"))
    finalizers = meta.get("finalizers")
    if finalizers is not None and finalizers != prev.get("finalizers"):
        causes.extend(_validate_finalizers(finalizers, "metadata.finalizers"))

    if extra_len is not None:
        causes.append(_invalid("metadata.name", name, extra_len))
    return causes
