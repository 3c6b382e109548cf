"""Calling one admission webhook: where it is (url, or a Service resolved as kube-apiserver's
ClusterIP service resolver with the loopback `kubernetes.default`), TLS with its caBundle, the POST of
an AdmissionReview with the webhook's timeout, and the checks of the answer
(k8s.io/apiserver/pkg/admission/plugin/webhook/request.VerifyAdmissionResponse).

Errors are `CallError` (kube's ErrCallingWebhook, subject to failurePolicy) with kube's texts, e.g.
`failed to call webhook: Post "https://127.0.0.1:1/x?timeout=10s": dial tcp 127.0.0.1:1: connect:
connection refused`.
"""

from __future__ import annotations

import errno
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

REVIEW_GROUP_VERSIONS = {"v1": "admission.k8s.io/v1", "v1beta1": "admission.k8s.io/v1beta1"}
MAX_RESPONSE_BYTES = 3 * 1024 * 1024


class CallError(Exception):
    """kube's ErrCallingWebhook: the webhook could not be called or answered nonsense."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f"failed calling webhook {_quote(webhook)}: {reason}")
        self.webhook = webhook
        self.reason = reason


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """A webhook's clientConfig, with its TLS context built once per configuration version."""

    url: str | None
    service_namespace: str
    service_name: str
    service_port: int
    service_path: str
    ssl_context: ssl.SSLContext

    @property
    def display_host(self) -> str:
        """The host kube's client puts in the URL (a Service's DNS name)."""
        return f"{self.service_name}.{self.service_namespace}.svc"


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The caBundle (base64-decoded PEM) as the only trusted CAs; without one the system roots."""
    ctx = ssl.create_default_context()
    if ca_bundle:
        ctx = ssl.create_default_context(cadata=ca_bundle)
    return ctx


def client_config(cc: dict[str, Any], ca_pem: str | None) -> ClientConfig:
    svc = cc.get("service") if isinstance(cc.get("service"), dict) else {}
    return ClientConfig(
        url=cc.get("url") if isinstance(cc.get("url"), str) else None,
        service_namespace=str(svc.get("namespace") or ""),
        service_name=str(svc.get("name") or ""),
        service_port=int(svc.get("port") or 443),
        service_path=str(svc.get("path") or ""),
        ssl_context=ssl_context(ca_pem),
    )


class Resolver:
    """Service → address: `await resolve(namespace, name, port) -> (host, port)`; raises ValueError
    with kube's text when the Service cannot be routed to."""

    async def resolve(self, namespace: str, name: str, port: int) -> tuple[str, int]:  # pragma: no cover
        raise NotImplementedError


async def call(
    session: aiohttp.ClientSession,
    resolver: Resolver,
    webhook: str,
    cfg: ClientConfig,
    review: dict[str, Any],
    timeout: int,
) -> dict[str, Any]:
    """POST the review; the decoded AdmissionReview answer (CallError on any failure)."""
    query = f"?timeout={timeout}s"
    if cfg.url is not None:
        target = display = cfg.url + query
        server_hostname: str | None = None
    else:
        display = f"https://{cfg.display_host}:{cfg.service_port}{cfg.service_path}{query}"
        try:
            host, port = await resolver.resolve(cfg.service_namespace, cfg.service_name, cfg.service_port)
        except ValueError as e:
            raise CallError(webhook, f'failed to call webhook: Post "{display}": {e}') from None
        netloc = f"[{host}]" if ":" in host else host
        target = f"https://{netloc}:{port}{cfg.service_path}{query}"
        server_hostname = cfg.display_host
    body = orjson.dumps(review)
    kw: dict[str, Any] = {"server_hostname": server_hostname} if server_hostname else {}
    try:
        async with session.post(
            target,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json, */*"},
            ssl=cfg.ssl_context,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
            **kw,
        ) as resp:
            raw = await resp.content.read(MAX_RESPONSE_BYTES + 1)
            status = resp.status
    except TimeoutError:
        raise CallError(
            webhook, f'failed to call webhook: Post "{display}": context deadline exceeded'
        ) from None
    except aiohttp.ClientConnectorCertificateError as e:
        raise CallError(
            webhook,
            f'failed to call webhook: Post "{display}": '
            f"tls: failed to verify certificate: {e.certificate_error}",
        ) from None
    except aiohttp.ClientConnectorError as e:
        raise CallError(
            webhook, f'failed to call webhook: Post "{display}": {_dial_error(e, target)}'
        ) from None
    except (aiohttp.ClientError, OSError, ValueError) as e:
        raise CallError(webhook, f'failed to call webhook: Post "{display}": {e}') from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise CallError(webhook, "failed to call webhook: the webhook's response is too large")
    if not 200 <= status < 300:
        raise CallError(webhook, f"failed to call webhook: {_http_error(status, raw)}")
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise CallError(
            webhook, f"failed to call webhook: couldn't get version/kind; json parse error: {e}"
        ) from None
    if not isinstance(answer, dict):
        raise CallError(webhook, "failed to call webhook: couldn't get version/kind; json parse error")
    return answer


def _dial_error(e: aiohttp.ClientConnectorError, target: str) -> str:
    u = urlsplit(target)
    where = f"{u.hostname}:{u.port or 443}"
    os_err = e.os_error
    if isinstance(os_err, ConnectionRefusedError) or getattr(os_err, "errno", None) == errno.ECONNREFUSED:
        return f"dial tcp {where}: connect: connection refused"
    if isinstance(os_err, ssl.SSLError):
        return f"remote error: tls: {os_err.reason or os_err}"
    return f"dial tcp {where}: {os_err.strerror or os_err}"


def _http_error(status: int, raw: bytes) -> str:
    """client-go's answer to a non-2xx response: the Status's message, else its generic texts."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status" and isinstance(doc.get("message"), str):
        return doc["message"]
    text = raw.decode("utf-8", "replace").strip()
    if status >= 500:
        return f'an error on the server ("{text}") has prevented the request from succeeding'
    if status == 404:
        return "the server could not find the requested resource"
    return f"the server responded with the status code {status} but did not return more information"


def verify_response(
    webhook: str, uid: str, review_version: str, mutating: bool, answer: dict[str, Any]
) -> dict[str, Any]:
    """VerifyAdmissionResponse: the `response` of a well-formed answer to our review."""
    bad = "received invalid webhook response: "
    resp = answer.get("response")
    if not isinstance(resp, dict):
        raise CallError(webhook, bad + "webhook response was absent")
    if resp.get("uid") != uid:
        raise CallError(
            webhook, bad + f"expected response.uid={_quote(uid)}, got {_quote(str(resp.get('uid') or ''))}"
        )
    want = REVIEW_GROUP_VERSIONS[review_version]
    got_av, got_kind = str(answer.get("apiVersion") or ""), str(answer.get("kind") or "")
    if got_av != want or got_kind != "AdmissionReview":
        g, _, v = got_av.rpartition("/")
        wg, _, wv = want.rpartition("/")
        raise CallError(
            webhook,
            bad
            + f"expected webhook response of {wg}/{wv}, Kind=AdmissionReview, got {g}/{v}, Kind={got_kind}",
        )
    patch = resp.get("patch")
    ptype = resp.get("patchType") or ""
    if patch and not ptype:
        raise CallError(webhook, bad + "webhook returned response.patch but not response.patchType")
    if patch and not mutating:
        raise CallError(webhook, bad + "validating webhook may not return response.patch")
    if not patch and ptype:
        raise CallError(webhook, bad + "webhook returned response.patchType but not response.patch")
    if ptype and ptype != "JSONPatch":
        raise CallError(webhook, bad + f"webhook returned invalid response.patchType of {_quote(str(ptype))}")
    return resp
