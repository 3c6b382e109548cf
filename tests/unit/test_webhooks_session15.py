"""Admission webhook matching, response checks, dry-run refusal and reinvocation (webhookadmission.py,
webhookclient.py), the last against a real HTTPS webhook on loopback."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from tests.integration.webhook_server import WebhookServer, allow, make_ca_and_cert, patch_response

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.webhookadmission import (
    Attributes,
    WebhookAdmission,
    _rejection,
    _rule,
    compile_configuration,
)
from vcluster.apiserver.webhookclient import CallError, verify_response

REG = Registry()
PODS = REG.get("", "v1", "pods")
NAMESPACES = REG.get("", "v1", "namespaces")
NODES = REG.get("", "v1", "nodes")
DEPLOYMENTS = REG.get("apps", "v1", "deployments")


def _r(resources: list[str], scope: str = "*", ops: list[str] | None = None, groups: list[str] | None = None):
    return _rule(
        {
            "operations": ops or ["*"],
            "apiGroups": groups or ["*"],
            "apiVersions": ["*"],
            "resources": resources,
            "scope": scope,
        }
    )


@pytest.mark.parametrize(
    ("resources", "rt", "sub", "expected"),
    [
        (["pods"], PODS, "", True),
        (["pods"], PODS, "status", False),
        (["pods/status"], PODS, "status", True),
        (["pods/*"], PODS, "status", True),
        (["pods/*"], PODS, "", True),  # kube: sub "*" matches the main resource too
        (["*/status"], DEPLOYMENTS, "status", True),
        (["*"], DEPLOYMENTS, "scale", False),
        (["*/*"], DEPLOYMENTS, "scale", True),
        (["*/*"], PODS, "", True),
        (["deployments"], PODS, "", False),
    ],
)
def test_rule_resources_and_subresources(resources: list[str], rt: Any, sub: str, expected: bool) -> None:
    assert _r(resources).matches("CREATE", rt, sub, True) is expected


def test_rule_scope_operations_and_groups() -> None:
    assert _r(["*"], "Namespaced").matches("CREATE", PODS, "", True)
    assert not _r(["*"], "Namespaced").matches("CREATE", NODES, "", False)
    assert not _r(["*"], "Namespaced").matches(
        "UPDATE", NAMESPACES, "", True
    )  # namespaces are cluster-scoped
    assert _r(["*"], "Cluster").matches("UPDATE", NAMESPACES, "", True)
    assert not _r(["*"], "Cluster").matches("CREATE", PODS, "", True)
    assert not _r(["*"], ops=["CREATE"]).matches("DELETE", PODS, "", True)
    assert not _r(["*"], groups=["apps"]).matches("CREATE", PODS, "", True)
    assert _r(["*"], groups=["apps"]).matches("CREATE", DEPLOYMENTS, "", True)


def test_verify_response_texts() -> None:
    ok = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u", "allowed": True},
    }
    assert verify_response("w", "u", "v1", False, ok)["allowed"] is True
    cases = [
        ({**ok, "response": {"uid": "other"}}, 'expected response.uid="u", got "other"'),
        ({**ok, "response": None}, "webhook response was absent"),
        (
            {**ok, "apiVersion": "admission.k8s.io/v1beta1"},
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
            "admission.k8s.io/v1beta1, Kind=AdmissionReview",
        ),
        (
            {**ok, "response": {"uid": "u", "patch": "W10="}},
            "webhook returned response.patch but not response.patchType",
        ),
        (
            {**ok, "response": {"uid": "u", "patch": "W10=", "patchType": "JSONPatch"}},
            "validating webhook may not return response.patch",
        ),
    ]
    for answer, text in cases:
        with pytest.raises(CallError) as e:
            verify_response("w", "u", "v1", False, answer)
        assert str(e.value) == f'failed calling webhook "w": received invalid webhook response: {text}'


def test_rejection_status() -> None:
    e = _rejection("w.example.com", {"code": 200, "message": "nope"})
    assert (e.code, e.reason, e.message) == (
        400,
        "",
        'admission webhook "w.example.com" denied the request: nope',
    )
    e = _rejection("w.example.com", {"code": 422, "reason": "Invalid"})
    assert (e.code, e.message) == (422, 'admission webhook "w.example.com" denied the request: Invalid')


def _config(hooks: list[dict[str, Any]], mutating: bool = True) -> list[Any]:
    return compile_configuration({"metadata": {"name": "c"}, "webhooks": hooks}, mutating)


def _hook(name: str, url: str, ca: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["nodes"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def _attrs(obj: dict[str, Any] | None, dry_run: bool = False) -> Attributes:
    return Attributes("CREATE", NODES, "", "", "n1", obj, None, dry_run, {"kind": "CreateOptions"})


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = WebhookServer(tmp_path_factory.mktemp("webhook"))
    yield ws
    ws.stop()


def test_dry_run_refused_for_side_effects_some(hooks: WebhookServer) -> None:
    hooks.behaviours["/ok"] = allow
    hooks.received.clear()
    obj = {"metadata": {"name": "n1"}}

    async def scenario() -> None:
        adm = WebhookAdmission(None, REG)  # type: ignore[arg-type]
        try:
            for side_effects in ("Some", "Unknown"):
                [hook] = _config(
                    [_hook("se.example.com", hooks.url("/ok"), hooks.ca_bundle, sideEffects=side_effects)]
                )
                with pytest.raises(StatusError) as e:
                    await adm.run_mutating(_attrs(obj, dry_run=True), ((hook, NODES),))
                assert (e.value.code, e.value.message) == (
                    400,
                    'admission webhook "se.example.com" does not support dry run',
                )
            assert hooks.reviews("/ok") == []
            [hook] = _config(
                [_hook("se.example.com", hooks.url("/ok"), hooks.ca_bundle, sideEffects="NoneOnDryRun")]
            )
            await adm.run_mutating(_attrs(obj, dry_run=True), ((hook, NODES),))
        finally:
            await adm.stop()

    asyncio.run(scenario())
    assert hooks.reviews("/ok")[0]["request"]["dryRun"] is True


@pytest.mark.parametrize(("policy", "calls_of_first"), [("IfNeeded", 2), ("Never", 1)])
def test_reinvocation_if_needed(hooks: WebhookServer, policy: str, calls_of_first: int) -> None:
    """A webhook changed the object after an IfNeeded one saw it: the IfNeeded one runs once more."""
    hooks.behaviours["/first"] = allow
    hooks.received.clear()
    hooks.behaviours["/second"] = lambda rv: patch_response(
        rv, [{"op": "add", "path": "/metadata/labels", "value": {"second": "yes"}}]
    )
    adm = WebhookAdmission(None, REG)  # type: ignore[arg-type]
    compiled = _config(
        [
            _hook("first.example.com", hooks.url("/first"), hooks.ca_bundle, reinvocationPolicy=policy),
            _hook("second.example.com", hooks.url("/second"), hooks.ca_bundle, reinvocationPolicy="IfNeeded"),
        ]
    )
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}

    async def scenario() -> dict[str, Any] | None:
        try:
            return await adm.run_mutating(_attrs(node), tuple((h, NODES) for h in compiled))
        finally:
            await adm.stop()

    out = asyncio.run(scenario())
    assert out is not None and out["metadata"]["labels"] == {"second": "yes"}
    first = hooks.reviews("/first")
    assert len(first) == calls_of_first and len(hooks.reviews("/second")) == 1
    if calls_of_first == 2:
        assert first[1]["request"]["object"]["metadata"]["labels"] == {"second": "yes"}


def test_bad_ca_bundle_is_a_call_error_subject_to_failure_policy(
    hooks: WebhookServer, tmp_path: Path
) -> None:
    """A caBundle of another authority: TLS verification fails, Fail answers 500, Ignore lets it pass."""
    hooks.behaviours["/ok"] = allow
    hooks.received.clear()
    wrong_ca = base64.b64encode(make_ca_and_cert(tmp_path, [])[0]).decode()
    [fail] = _config([_hook("ca.example.com", hooks.url("/ok"), wrong_ca)], mutating=False)
    [ignore] = _config(
        [_hook("ca.example.com", hooks.url("/ok"), wrong_ca, failurePolicy="Ignore")], mutating=False
    )

    async def scenario() -> None:
        adm = WebhookAdmission(None, REG)  # type: ignore[arg-type]
        try:
            with pytest.raises(StatusError) as e:
                await adm.run_validating(_attrs({"metadata": {"name": "n1"}}), ((fail, NODES),))
            assert e.value.code == 500 and "tls: failed to verify certificate" in e.value.message
            await adm.run_validating(_attrs({"metadata": {"name": "n1"}}), ((ignore, NODES),))
        finally:
            await adm.stop()

    asyncio.run(scenario())
    assert hooks.reviews("/ok") == []
