"""ApiError (a failed request, built from the server's metav1.Status) and ConnectionFailed."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A non-2xx answer (or a watch ERROR event) from the API server.

    ``status`` is the HTTP code (the Status ``code``), ``reason`` the Status reason (e.g. "NotFound",
    "AlreadyExists", "Conflict", "Expired"), ``message`` its message and ``body`` the whole Status
    dict (``{}`` when the server did not send one).
    """

    def __init__(
        self,
        status: int,
        reason: str = "",
        message: str = "",
        body: dict[str, Any] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        Exception.__init__(self, status, reason, message)
        self.status = status
        self.reason = reason
        self.message = message
        self.body: dict[str, Any] = body if body is not None else {}
        self.method = method
        self.path = path

    @classmethod
    def from_status(cls, status: dict[str, Any], *, default_code: int = 500, **kw: Any) -> ApiError:
        """Build from a metav1.Status dict (e.g. the object of a watch ERROR event)."""
        code = status.get("code")
        if not isinstance(code, int) or code <= 0:
            code = default_code
        return cls(
            code,
            str(status.get("reason") or _REASONS.get(code, "")),
            str(status.get("message") or ""),
            status,
            **kw,
        )

    @classmethod
    def from_response(
        cls, status: int, body: bytes, *, method: str | None = None, path: str | None = None
    ) -> ApiError:
        """Build from an HTTP status and body: the Status object if the body is one, else the text."""
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            err = cls.from_status(parsed, default_code=status, method=method, path=path)
            err.status = status  # the HTTP status is authoritative
            return err
        text = body.decode("utf-8", "replace").strip()[:2000]
        return cls(status, _REASONS.get(status, "Unknown"), text, {}, method=method, path=path)

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        return f"{self.status} {self.reason}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.reason!r}, {self.message!r})"

    @property
    def details(self) -> dict[str, Any]:
        d = self.body.get("details")
        return d if isinstance(d, dict) else {}

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (Status details.retryAfterSeconds), if any."""
        v = self.details.get("retryAfterSeconds")
        return float(v) if isinstance(v, int | float) and v > 0 else None

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def conflict(self) -> bool:
        """An optimistic-concurrency conflict (409 other than AlreadyExists): re-read and retry."""
        return self.status == 409 and self.reason != "AlreadyExists"

    @property
    def gone(self) -> bool:
        """410: the resourceVersion is too old (watch/continue token expired); relist."""
        return self.status == 410

    @property
    def invalid(self) -> bool:
        return self.status == 422 or self.reason == "Invalid"

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def unauthorized(self) -> bool:
        return self.status == 401

    @property
    def bad_request(self) -> bool:
        return self.status == 400

    @property
    def too_many_requests(self) -> bool:
        return self.status == 429

    @property
    def server_error(self) -> bool:
        return self.status >= 500

    @property
    def retriable(self) -> bool:
        """Worth retrying unchanged after a backoff: throttling, server errors, timeouts, no connection."""
        return self.status in (0, 429) or self.status >= 500


class ConnectionFailed(ApiError, aiohttp.ClientConnectionError, OSError):
    """The server could not be reached or the connection broke (status 0, reason "ConnectionFailed").

    Raised instead of the underlying aiohttp/OSError/timeout exception, which is kept as
    ``__cause__``. It is an ApiError *and* an aiohttp.ClientConnectionError *and* an OSError, so
    ``except ApiError``, ``except aiohttp.ClientError`` and ``except OSError`` all catch it.
    """

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        ApiError.__init__(self, 0, "ConnectionFailed", message, {}, method=method, path=path)
