"""kube's opaque CEL types (net.IP, net.IPNet, kubernetes.URL, kubernetes.Quantity, the
kubernetes.authorization types) as protobuf messages of a private descriptor pool: the C++ runtime
passes only CEL values and messages to and from Python functions, so each opaque value is a
message holding its canonical text."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL

# CEL type name -> field names (all strings).
_TYPES: dict[str, tuple[str, ...]] = {
    "net.IP": ("addr",),
    "net.IPNet": ("prefix",),
    "kubernetes.URL": ("url",),
    # exact value as "numerator/denominator": message equality is then Quantity.Cmp == 0
    "kubernetes.Quantity": ("value",),
    # the authz library's values (cel/authz.py): `authorizer` is the key of the authorizer object,
    # `user` the principal as JSON; a Decision's `decision` is allow/deny/noopinion
    "kubernetes.authorization.Authorizer": ("authorizer", "user"),
    "kubernetes.authorization.PathCheck": ("authorizer", "user", "path"),
    "kubernetes.authorization.GroupCheck": ("authorizer", "user", "group"),
    "kubernetes.authorization.ResourceCheck": (
        "authorizer",
        "user",
        "group",
        "resource",
        "subresource",
        "namespace",
        "name",
        "field_selector",
        "label_selector",
    ),
    "kubernetes.authorization.Decision": ("decision", "reason", "error"),
}


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    by_package: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for full, fields in _TYPES.items():
        package, name = full.rsplit(".", 1)
        by_package.setdefault(package, []).append((name, fields))
    for package, messages in by_package.items():
        fdp = descriptor_pb2.FileDescriptorProto(
            name=f"vcluster_cel_{package}.proto", package=package, syntax="proto3"
        )
        for name, fields in messages:
            msg = fdp.message_type.add(name=name)
            for i, field in enumerate(fields, start=1):
                msg.field.add(name=field, number=i, type=_STRING, label=_OPTIONAL)
        pool.Add(fdp)
    return pool


POOL = _build_pool()


def _cls(full: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full))


IP = _cls("net.IP")
IPNet = _cls("net.IPNet")
URL = _cls("kubernetes.URL")
Quantity = _cls("kubernetes.Quantity")
Authorizer = _cls("kubernetes.authorization.Authorizer")
PathCheck = _cls("kubernetes.authorization.PathCheck")
GroupCheck = _cls("kubernetes.authorization.GroupCheck")
ResourceCheck = _cls("kubernetes.authorization.ResourceCheck")
AuthzDecision = _cls("kubernetes.authorization.Decision")
