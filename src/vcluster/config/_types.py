"""Base model and the small value types of vcluster.yaml (strict, camelCase, unknown keys rejected)."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain


def show(value: Any) -> str:
    """A user-facing rendering of a bad value: JSON-like scalars, a word for containers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value[:80] + ("…" if len(value) > 80 else ""), ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


def fail(message: str) -> PydanticCustomError:
    """A validation error whose text is `message` verbatim (braces are not templates)."""
    return PydanticCustomError("vcluster_config", "{m}", {"m": message})


class Model(BaseModel):
    """Base of every vcluster.yaml section: camelCase keys, strict types, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        hide_input_in_errors=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        """`key: null` (or an empty `key:`) falls back to the default, as Helm values do."""
        if isinstance(data, dict) and any(v is None for v in data.values()):
            return {k: v for k, v in data.items() if v is not None}
        return data


# ---- enabled: true | false | auto  (vCluster's StrBool)
def _auto_bool(value: Any) -> str:
    if value is True or value == "true":
        return "true"
    if value is False or value == "false":
        return "false"
    if value == "auto":
        return "auto"
    raise fail(f'expected true, false or "auto", got {show(value)}')


def _auto_bool_out(value: str) -> bool | str:
    return {"true": True, "false": False}.get(value, value)


AutoBool = Annotated[str, PlainValidator(_auto_bool), PlainSerializer(_auto_bool_out)]


# ---- resource quantities ("30m", "64Mi", 1)
_QUANTITY_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?")


def _quantity(value: Any) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f'expected a resource quantity such as "30m" or "64Mi", got {show(value)}')
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(f"expected a finite resource quantity, got {show(value)}")
    if isinstance(value, str) and not _QUANTITY_RE.fullmatch(value):
        raise fail(f'expected a resource quantity such as "30m" or "64Mi", got {show(value)}')
    return value


Quantity = Annotated[str | int | float, PlainValidator(_quantity)]


# ---- listen addresses ("host:port", ":port"; "" or "0" for off, as controller-runtime's BindAddress)
_BIND_OFF = ("", "0")


def _bind_address(value: Any) -> str:
    if not isinstance(value, str):
        raise fail(f"expected a string, got {show(value)}")
    if value in _BIND_OFF:
        return value
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = "-"  # an IPv6 address needs brackets
    ok = sep and port.isdigit() and 0 < int(port) < 65536 and " " not in host and host != "-"
    if not ok:
        raise fail(f'invalid listen address {show(value)}, expected "host:port" or ":port" (or "0" for off)')
    return value


def split_bind_address(value: str) -> tuple[str, int] | None:
    """(host, port) of a validated bind address ("" host: every interface), None when off."""
    if value in _BIND_OFF:
        return None
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


BindAddress = Annotated[str, PlainValidator(_bind_address)]


# ---- string enums with a readable message
def one_of(*allowed: str, what: str = "value") -> Callable[[Any], str]:
    """A plain validator accepting exactly the given strings."""
    shown = ", ".join(a for a in allowed if a)
    extra = " (or empty)" if "" in allowed else ""

    def check(value: Any) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        if not isinstance(value, str):
            raise fail(f"expected a string, got {show(value)}")
        raise fail(f"invalid {what} {show(value)}, must be one of: {shown}{extra}")

    return check


# ---- names
def _optional_subdomain(value: str) -> str:
    if value and (errs := is_dns1123_subdomain(value)):
        raise fail(f"invalid name {show(value)}: {errs[0]}")
    return value


def _cluster_domain(value: str) -> str:
    if not value:
        raise fail("must not be empty")
    if errs := is_dns1123_subdomain(value):
        raise fail(f"invalid cluster domain {show(value)}: {errs[0]}")
    return value


def _cidr(value: str) -> str:
    if not value:
        return value
    for part in value.split(","):
        try:
            ipaddress.ip_network(part.strip(), strict=True)
        except ValueError as e:
            raise fail(f"invalid CIDR {show(part.strip())}: {e}") from None
    return value


def _object_ref(value: str) -> str:
    """`name` or `namespace/name` with valid DNS names."""
    parts = value.split("/")
    if not value or len(parts) > 2 or not all(parts):
        raise fail(f"expected NAME or NAMESPACE/NAME, got {show(value)}")
    if len(parts) == 2 and (errs := is_dns1123_label(parts[0])):
        raise fail(f"invalid namespace {show(parts[0])}: {errs[0]}")
    if errs := is_dns1123_label(parts[-1]):
        raise fail(f"invalid service name {show(parts[-1])}: {errs[0]}")
    return value


def _namespaced_ref(value: str) -> str:
    """`namespace/name` (replicateServices: the side whose namespace cannot be implied)."""
    _object_ref(value)
    if "/" not in value:
        raise fail(f"expected NAMESPACE/NAME, got {show(value)}")
    return value


def _name_ref(value: str) -> str:
    """A plain `name` (replicateServices.toHost.to: the host namespace is implied)."""
    _object_ref(value)
    if "/" in value:
        raise fail(f"expected NAME (the service is created in the host namespace), got {show(value)}")
    return value


OptionalName = Annotated[str, AfterValidator(_optional_subdomain)]
ClusterDomain = Annotated[str, AfterValidator(_cluster_domain)]
Cidr = Annotated[str, AfterValidator(_cidr)]
ObjectRef = Annotated[str, AfterValidator(_object_ref)]
NamespacedRef = Annotated[str, AfterValidator(_namespaced_ref)]
NameRef = Annotated[str, AfterValidator(_name_ref)]
