"""Kubernetes `metav1.Status` errors, with the reasons, codes and messages of kube-apiserver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

REASON_CODES: dict[str, int] = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Gone": 410,
    "Expired": 410,
    "RequestEntityTooLarge": 413,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "TooManyRequests": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "Timeout": 504,
}


@dataclass(slots=True)
class Cause:
    """One `details.causes` entry; `reason` is the cause type (FieldValueInvalid, ...)."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        d = {"reason": self.reason, "message": self.message}
        if self.field:
            d["field"] = self.field
        return d


@dataclass
class StatusError(Exception):
    """An API error that is answered as a `Status` object."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    causes: list[Cause] = field(default_factory=list)
    headers: dict[str, str] | None = None
    # NewGenericServerResponse's Status always carries a (here empty) `details` object
    empty_details: bool = False

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        details = dict(self.details) if self.details else {}
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if details or self.empty_details:
            st["details"] = details
        st["code"] = self.code
        return st

    def body(self) -> bytes:
        return orjson.dumps(self.status())


def qualified_resource(resource: str, group: str) -> str:
    """`pods`, `deployments.apps`: how kube-apiserver names a resource in messages."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    """StatusDetails: `name` and `group` are omitempty in Go."""
    d: dict[str, Any] = {"name": name} if name else {}
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{qualified_resource(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified_resource(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> StatusError:
    """422 Invalid; `details.kind` is the Kind, the message joins the causes as upstream does (an
    aggregate error: repeated texts once, brackets around more than one)."""
    parts = list(dict.fromkeys(f"{c.field}: {c.message}" if c.field else c.message for c in causes))
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qual = f"{kind}.{group}" if group else kind
    return StatusError(
        422,
        "Invalid",
        f'{qual} "{name}" is invalid: {joined}',
        _details(name, group, kind),
        causes=list(causes),
    )


def bad_request(message: str, causes: list[Cause] | None = None) -> StatusError:
    return StatusError(400, "BadRequest", message, causes=causes or [])


def forbidden(resource: str, group: str, name: str, why: str) -> StatusError:
    """NewForbidden: `pods "x" is forbidden: ...`, or `pods is forbidden: ...` without a name."""
    what = f'{qualified_resource(resource, group)} "{name}"' if name else qualified_resource(resource, group)
    return StatusError(403, "Forbidden", f"{what} is forbidden: {why}", _details(name, group, resource))


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> StatusError:
    """go-restful's 405 for a path without a route for the method, as kube-apiserver's service error
    handler answers it (apierrors.NewGenericServerResponse: `details: {}`)."""
    return StatusError(405, "MethodNotAllowed", message, {}, empty_details=True)


def route_not_found() -> StatusError:
    """go-restful's 404 inside a served group version (an unknown resource or subresource, a scope
    that does not fit): a Status with `details: {}` (apierrors.NewGenericServerResponse)."""
    return StatusError(
        404, "NotFound", "the server could not find the requested resource", {}, empty_details=True
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
        {},
    )


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large_rv(requested: int, current: int) -> StatusError:
    return StatusError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {"retryAfterSeconds": 1},
        causes=[Cause("ResourceVersionTooLarge", "Too large resource version")],
    )


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}", {})


# Field error bodies (apimachinery field.Error.ErrorBody).
def _fmt_value(value: Any) -> str:
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def field_invalid(path: str, value: Any, detail: str) -> Cause:
    msg = f"Invalid value: {_fmt_value(value)}"
    if detail:
        msg += f": {detail}"
    return Cause("FieldValueInvalid", msg, path)


def field_required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def field_forbidden(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""), path)


def field_not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    quoted = ", ".join(orjson.dumps(s).decode() for s in supported)
    return Cause(
        "FieldValueNotSupported",
        f"Unsupported value: {_fmt_value(value)}: supported values: {quoted}",
        path,
    )


def field_too_long(path: str, value: Any, max_len: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {max_len} bytes", path)


def field_duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {_fmt_value(value)}", path)
