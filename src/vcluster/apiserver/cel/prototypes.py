"""Declared CEL types for a CRD schema, as kube's DeclTypes are: every object node with
properties (and every resource root) becomes a protobuf message type, so the checker knows each
node's fields and their types (``undefined field 'x'``, ``found no matching overload ...``).

The messages are only for type-checking: rules are evaluated on plain maps (see ``schema``).
Fields: integer → int64, number → double, string → string (bytes, Timestamp, Duration by
format), boolean → bool, objects → their message, additionalProperties → map<string, V>,
arrays → repeated; int-or-string and untyped values → google.protobuf.Value (dyn), nested lists
and map values that are lists or maps → ListValue/Struct (dyn), x-kubernetes-preserve-unknown-fields
objects without properties → Struct."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import orjson
from cel_expr_python import cel
from google.protobuf import descriptor_pb2, duration_pb2, struct_pb2, timestamp_pb2

from vcluster.jsonguards import as_dict as _d

from . import opaque
from .schema import escape

T = cel.Type
F = descriptor_pb2.FieldDescriptorProto

for _mod in (struct_pb2, duration_pb2, timestamp_pb2):
    _fdp = descriptor_pb2.FileDescriptorProto()
    _mod.DESCRIPTOR.CopyToProto(_fdp)
    with contextlib.suppress(TypeError):  # already there
        opaque.POOL.Add(_fdp)

_WKT_DEPS = [
    "google/protobuf/struct.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/timestamp.proto",
]
_SCALARS = {"integer": F.TYPE_INT64, "number": F.TYPE_DOUBLE, "boolean": F.TYPE_BOOL}


def _map_entry_name(field_name: str) -> str:
    """protobuf's MapEntryName: the nested entry type a map field must have."""
    out: list[str] = []
    cap_next = True
    for c in field_name:
        if c == "_":
            cap_next = True
        elif cap_next:
            out.append(c.upper() if "a" <= c <= "z" else c)
            cap_next = False
        else:
            out.append(c)
    return "".join(out) + "Entry"


class SchemaTypes:
    """The message types of one schema (one descriptor file, named by the schema's hash)."""

    def __init__(
        self, schema: dict[str, Any], resource_root: bool = True, *, escape_names: bool = True
    ) -> None:
        digest = hashlib.sha1(orjson.dumps([schema, resource_root], option=orjson.OPT_SORT_KEYS)).hexdigest()[
            :20
        ]
        self.package = f"crd_{digest}"
        self._file = descriptor_pb2.FileDescriptorProto(
            name=f"{self.package}.proto", package=self.package, syntax="proto3", dependency=_WKT_DEPS
        )
        self._escape = escape_names  # False for Go types (their field names are used as they are)
        self._names: dict[tuple[int, bool], str] = {}
        self._keep: list[dict[str, Any]] = []  # ids stay valid while the schemas are alive
        self._sealed = False
        root = self.decl(schema, resource_root)
        try:
            opaque.POOL.FindFileByName(self._file.name)
        except KeyError:
            opaque.POOL.Add(self._file)
        self._sealed = True
        # the C++ runtime copies the file into its own pool and may refuse what Python accepted
        cel.NewEnv(opaque.POOL, variables={"self": root}).compile("true")

    def _message_name(self, s: dict[str, Any], resource_root: bool) -> str:
        key = (id(s), resource_root)
        name = self._names.get(key)
        if name is None:
            if self._sealed:
                raise KeyError("schema node outside the typed schema")
            name = f"M{len(self._names)}"
            self._names[key] = name
            self._keep.append(s)
            self._build_message(name, s, resource_root)
        return f"{self.package}.{name}"

    def _is_message(self, s: dict[str, Any], resource_root: bool) -> bool:
        if s.get("x-kubernetes-int-or-string") is True or s.get("type") != "object":
            return False
        if resource_root or s.get("x-kubernetes-embedded-resource") is True or _d(s.get("properties")):
            return True
        return not isinstance(s.get("additionalProperties"), dict) and not s.get(
            "x-kubernetes-preserve-unknown-fields"
        )

    def decl(self, s: dict[str, Any], resource_root: bool = False) -> cel.Type:
        """The CEL type of schema node ``s`` (as ``self`` of its rules)."""
        resource_root = resource_root or s.get("x-kubernetes-embedded-resource") is True
        if s.get("x-kubernetes-int-or-string") is True:
            return T.DYN
        if self._is_message(s, resource_root):
            return T(self._message_name(s, resource_root))
        t = s.get("type")
        if t == "array":
            items = s.get("items")
            return T.List(self.decl(items) if isinstance(items, dict) else T.DYN)
        if t == "object":
            ap = s.get("additionalProperties")
            return T.Map(T.STRING, self.decl(ap) if isinstance(ap, dict) else T.DYN)
        if t == "string":
            fmt = s.get("format")
            return {
                "byte": T.BYTES,
                "duration": T.DURATION,
                "date": T.TIMESTAMP,
                "date-time": T.TIMESTAMP,
            }.get(fmt if isinstance(fmt, str) else "", T.STRING)
        return {"integer": T.INT, "number": T.DOUBLE, "boolean": T.BOOL}.get(
            t if isinstance(t, str) else "", T.DYN
        )

    def _build_message(self, name: str, s: dict[str, Any], resource_root: bool) -> None:
        msg = self._file.message_type.add(name=name)
        fields: dict[str, dict[str, Any]] = {}
        for prop, sub in _d(s.get("properties")).items():
            esc = escape(prop) if self._escape else prop
            if esc is not None and isinstance(sub, dict):
                fields[esc] = sub
        if resource_root:
            fields["apiVersion"] = {"type": "string"}
            fields["kind"] = {"type": "string"}
            fields["metadata"] = {
                "type": "object",
                "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
            }
        for number, (field_name, sub) in enumerate(fields.items(), start=1):
            self._add_field(msg, field_name, number, sub)

    def _add_field(self, msg: Any, field_name: str, number: int, s: dict[str, Any]) -> None:
        f = msg.field.add(name=field_name, number=number, json_name=f"f{number}", label=F.LABEL_OPTIONAL)
        if s.get("type") == "array":
            items = s.get("items")
            f.label = F.LABEL_REPEATED
            self._set_type(f, items if isinstance(items, dict) else {}, nested=True)
            return
        ap = s.get("additionalProperties")
        if (
            s.get("type") == "object"
            and isinstance(ap, dict)
            and not self._is_message(s, s.get("x-kubernetes-embedded-resource") is True)
        ):
            entry = msg.nested_type.add(name=_map_entry_name(field_name))
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, json_name="key", type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
            value = entry.field.add(name="value", number=2, json_name="value", label=F.LABEL_OPTIONAL)
            self._set_type(value, ap, nested=True)
            f.label = F.LABEL_REPEATED
            f.type = F.TYPE_MESSAGE
            f.type_name = f".{self.package}.{msg.name}.{entry.name}"
            return
        self._set_type(f, s, nested=False)

    def _set_type(self, f: Any, s: dict[str, Any], nested: bool) -> None:
        """The proto type of a value of schema ``s``; ``nested``: inside a list or map value."""
        t = s.get("type")
        embedded = s.get("x-kubernetes-embedded-resource") is True
        if s.get("x-kubernetes-int-or-string") is True or not t:
            self._message(f, ".google.protobuf.Value")
        elif t in _SCALARS:
            f.type = _SCALARS[t]
        elif t == "string":
            fmt = s.get("format")
            if fmt == "byte":
                f.type = F.TYPE_BYTES
            elif fmt == "duration":
                self._message(f, ".google.protobuf.Duration")
            elif fmt in ("date", "date-time"):
                self._message(f, ".google.protobuf.Timestamp")
            else:
                f.type = F.TYPE_STRING
        elif t == "object" and self._is_message(s, embedded):
            self._message(f, "." + self._message_name(s, embedded))
        elif t == "object":
            self._message(f, ".google.protobuf.Struct")
        elif t == "array" and nested:
            self._message(f, ".google.protobuf.ListValue")
        else:
            self._message(f, ".google.protobuf.Value")

    @staticmethod
    def _message(f: Any, type_name: str) -> None:
        f.type = F.TYPE_MESSAGE
        f.type_name = type_name
