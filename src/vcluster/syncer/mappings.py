"""Mappings-store key format and JSON shape (§7.2); encode/decode only, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from vcluster.syncer.kinds import Kind

PREFIX = "/vcluster/mappings/"
_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")


class Reference(NamedTuple):
    """A (kind, namespace, name) the owner uses, with the host name it translates to."""

    kind: str
    namespace: str
    name: str
    host_namespace: str = ""
    host_name: str = ""
    group: str = ""
    version: str = "v1"

    @classmethod
    def of(cls, kind: Kind, namespace: str, name: str, host_namespace: str, host_name: str) -> Reference:
        """A reference to a virtual object of `kind`."""
        return cls(kind.kind, namespace, name, host_namespace, host_name, kind.group, kind.version)

    def to_json(self) -> dict[str, Any]:
        """Go's default encoding of the embedded NameMapping (no json tags)."""
        return {
            "Group": self.group,
            "Version": self.version,
            "Kind": self.kind,
            "VirtualName": {"Namespace": self.namespace, "Name": self.name},
            "HostName": {"Namespace": self.host_namespace, "Name": self.host_name},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Reference:
        """Inverse of to_json."""
        v, h = d.get("VirtualName") or {}, d.get("HostName") or {}
        return cls(
            d.get("Kind", ""),
            v.get("Namespace", ""),
            v.get("Name", ""),
            h.get("Namespace", ""),
            h.get("Name", ""),
            d.get("Group", ""),
            d.get("Version", ""),
        )


def group_version(group: str, version: str) -> str:
    """`v1` for the core group, `group/version` otherwise."""
    return f"{group}/{version}" if group else version


def mapping_key(group: str, version: str, kind: str, namespace: str, name: str) -> str:
    """`/vcluster/mappings/<gv>/<kind lowercase>[/<ns>]/<name>`."""
    ns = f"{namespace}/" if namespace else ""
    return f"{PREFIX}{group_version(group, version)}/{kind.lower()}/{ns}{name}"


class KeyParts(NamedTuple):
    """The fields a mapping key carries (the kind only in lower case)."""

    group: str
    version: str
    kind_lower: str
    namespace: str
    name: str


def parse_key(key: str) -> KeyParts:
    """Split a mapping key; raises ValueError for anything that is not one."""
    if not key.startswith(PREFIX):
        raise ValueError(f"not a mapping key: {key!r}")
    parts = key[len(PREFIX) :].split("/")
    group = ""
    if not _VERSION.match(parts[0]):
        group, parts = parts[0], parts[1:]
    if len(parts) == 3:
        version, kind, name = parts
        namespace = ""
    elif len(parts) == 4:
        version, kind, namespace, name = parts
    else:
        raise ValueError(f"not a mapping key: {key!r}")
    if not (version and kind and name):
        raise ValueError(f"not a mapping key: {key!r}")
    return KeyParts(group, version, kind, namespace, name)


@dataclass
class OwnerMapping:
    """An owner object's virtual↔host names plus every reference recorded while reconciling it."""

    owner: Reference
    references: list[Reference] = field(default_factory=list)
    sender: str = ""

    @property
    def key(self) -> str:
        """The store key of this mapping."""
        o = self.owner
        return mapping_key(o.group, o.version, o.kind, o.namespace, o.name)

    def add(self, ref: Reference) -> bool:
        """Record a reference once; True when it was new."""
        if ref in self.references:
            return False
        self.references.append(ref)
        return True

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored under `key` (sender/references omitted when empty)."""
        d = self.owner.to_json()
        if self.sender:
            d["sender"] = self.sender
        if self.references:
            d["references"] = [r.to_json() for r in self.references]
        return d

    def encode(self) -> bytes:
        """Bytes stored as the kine value."""
        return orjson.dumps(self.to_json())

    @classmethod
    def decode(cls, data: bytes | str) -> OwnerMapping:
        """Parse a stored value; raises ValueError on garbage."""
        try:
            d = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"invalid mapping value: {e}") from None
        if not isinstance(d, dict):
            raise ValueError("invalid mapping value: not an object")
        refs = [Reference.from_json(r) for r in d.get("references") or [] if isinstance(r, dict)]
        return cls(Reference.from_json(d), refs, str(d.get("sender") or ""))

    @classmethod
    def from_key(cls, key: str) -> OwnerMapping:
        """What a delete event whose value cannot be decoded still tells (names from the key)."""
        p = parse_key(key)
        return cls(Reference(p.kind_lower, p.namespace, p.name, group=p.group, version=p.version))
