"""kube-controller-manager's `csrapproving` controller (pkg/controller/certificates/approver/
sarapprove.go): a kubelet client request (signer kube-apiserver-client-kubelet, the kubelet
subject and usages) is approved when its requester may `create` `certificatesigningrequests/
selfnodeclient` (renewing its own node identity) or `.../nodeclient`, as a SubjectAccessReview
with the requester's identity from the CSR's spec answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from vcluster.apiserver import certificates as capi
from vcluster.apiserver import csrparse
from vcluster.controllers.base import BaseController, clone
from vcluster.controllers.csrsigning import (
    API_VERSION,
    PLURAL,
    SignerValidationError,
    validate_kubelet_client,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers


def is_node_client_cert(csr: dict[str, Any], req: x509.CertificateSigningRequest) -> bool:
    """isNodeClientCert: the kubelet-client signer and the kubelet client rules."""
    if capi.spec_of(csr).get("signerName") != capi.KUBE_APISERVER_CLIENT_KUBELET:
        return False
    usages = {u for u in capi.spec_of(csr).get("usages") or [] if isinstance(u, str)}
    try:
        validate_kubelet_client(req, usages)
    except SignerValidationError:
        return False
    return True


def is_self_node_client_cert(csr: dict[str, Any], req: x509.CertificateSigningRequest) -> bool:
    """isSelfNodeClientCert: a node client request whose requester is the certificate's subject."""
    if not is_node_client_cert(csr, req):
        return False
    cns = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return bool(cns) and capi.spec_of(csr).get("username") == cns[-1].value


@dataclass(frozen=True, slots=True)
class Recognizer:
    recognize: Callable[[dict[str, Any], x509.CertificateSigningRequest], bool]
    subresource: str
    message: str


RECOGNIZERS = (
    Recognizer(
        is_self_node_client_cert,
        "selfnodeclient",
        "Auto approving self kubelet client certificate after SubjectAccessReview.",
    ),
    Recognizer(
        is_node_client_cert,
        "nodeclient",
        "Auto approving kubelet client certificate after SubjectAccessReview.",
    ),
)


class CSRApprovingController(BaseController):
    """Approves node client certificate requests their requesters are authorized for."""

    name = "csrapproving"
    component = "csrapproving-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.csrs = informers.informer(API_VERSION, PLURAL)
        self.csrs.add_handler(self._on_csr)

    def _on_csr(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self.enqueue(obj)

    async def run(self, workers: int = 2) -> None:
        await self.csrs.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or capi.certificate_bytes(cached):
            return
        approved, denied = capi.approval_state(cached)
        if approved or denied:
            return
        try:
            req = csrparse.parse_csr_pem(capi.request_bytes(cached) or b"")
        except ValueError as e:
            raise ValueError(f'unable to parse csr "{key}": {e}') from None
        tried: list[str] = []
        for r in RECOGNIZERS:
            if not r.recognize(cached, req):
                continue
            tried.append(r.subresource)
            if await self._authorize(cached, r.subresource):
                csr = clone(cached)
                csr["apiVersion"], csr["kind"] = API_VERSION, capi.KIND
                csr.setdefault("status", {}).setdefault("conditions", []).append(
                    {"type": capi.APPROVED, "status": "True", "reason": "AutoApproved", "message": r.message}
                )
                await self.client.update(API_VERSION, PLURAL, csr, subresource="approval")
                return
        if tried:  # an IgnorableError upstream: logged, not retried
            self.log.info("recognized csr %s as %s but subject access review was not approved", key, tried)

    async def _authorize(self, csr: dict[str, Any], subresource: str) -> bool:
        """A SubjectAccessReview of `create` on certificatesigningrequests/<subresource>."""
        spec = capi.spec_of(csr)
        sar_spec: dict[str, Any] = {
            "user": spec.get("username") or "",
            "resourceAttributes": {
                "group": capi.GROUP,
                "version": "*",
                "resource": capi.RESOURCE,
                "subresource": subresource,
                "verb": "create",
            },
        }
        for key in ("uid", "groups", "extra"):
            if spec.get(key):
                sar_spec[key] = spec[key]
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": sar_spec}
        answer = await self.client.create("authorization.k8s.io/v1", "subjectaccessreviews", body)
        return bool((answer.get("status") or {}).get("allowed"))
