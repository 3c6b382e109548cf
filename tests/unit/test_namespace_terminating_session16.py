"""apierrors.HasStatusCause(err, NamespaceTerminatingCause) as the controllers test it: a cause's
Type is sent on the wire as `reason` (metav1.StatusCause's JSON tag)."""

from __future__ import annotations

from vcluster.client import ApiError
from vcluster.controllers.base import namespace_terminating
from vcluster.controllers.serviceaccount import has_terminating_cause


def _refusal(cause: dict[str, str]) -> ApiError:
    body = {"kind": "Status", "code": 403, "reason": "Forbidden", "details": {"causes": [cause]}}
    return ApiError(403, "Forbidden", "unable to create new content", body)


def test_terminating_cause_is_read_from_reason() -> None:
    cause = {"reason": "NamespaceTerminating", "message": "namespace x is being terminated"}
    for check in (namespace_terminating, has_terminating_cause):
        assert check(_refusal(cause))
        assert not check(_refusal({"reason": "FieldValueInvalid", "message": "m"}))
        assert not check(_refusal({"type": "NamespaceTerminating", "message": "not the wire form"}))
        assert not check(ApiError(403, "Forbidden", "RBAC"))
