"""The create branch of a PUT (kube's Store.Update with AllowCreateOnUpdate, `rest/update.go`).

For the kinds `strategy.allow_create_on_update` names, a PUT to a missing name creates the object:
the UID precondition of the body is checked against the missing object (a 409 when the body names
a uid), its resourceVersion is ignored, the writer needs `create` on the resource besides the
`update` the request was authorized for (`withAuthorization` of the create validation: a 403 with
the authorizer's reason), and the answer is 201 Created.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver.errors import conflict
from vcluster.apiserver.rbac_authorizer import Attributes
from vcluster.apiserver.rbac_escalation import REQUEST_AUTH
from vcluster.apiserver.rbac_request import forbidden_status
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.resources import ResourceType

__all__ = ["prepare"]


def _authorize_create(rt: ResourceType, info: RequestInfo) -> None:
    auth = REQUEST_AUTH.get()
    if auth is None:
        return
    attrs = Attributes(
        verb="create",
        resource_request=True,
        namespace=info.namespace if rt.namespaced else "",
        group=rt.group,
        version=rt.version,
        resource=rt.plural,
        subresource="",
        name=info.name,
    )
    decision = auth.authorizer.authorize(auth.user, attrs)
    if not decision.allowed:
        raise forbidden_status(rt.plural, rt.group, info.name, decision.reason)


def prepare(rt: ResourceType, info: RequestInfo, obj: dict[str, Any]) -> None:
    """Check a PUT body that is about to create its object, and make it a create's body."""
    md = obj["metadata"]
    uid = md.get("uid")
    if uid not in (None, ""):
        raise conflict(
            rt.plural,
            rt.group,
            info.name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: ",
        )
    _authorize_create(rt, info)
    md.pop("resourceVersion", None)
