"""CONNECT admission (rest.go ConnectResource): `kubectl exec`, `attach` and `port-forward` reach
the mutating and validating webhooks (a real HTTPS webhook server on loopback) and
ValidatingAdmissionPolicy with operation CONNECT and the PodExecOptions / PodAttachOptions /
PodPortForwardOptions as the object, before anything runs; a denial answers the request with the
webhook's Status, a mutating webhook's patch changes what runs. Against a virtual cluster (through
the syncer to the host pod) and the simulated host directly."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kubectl
from .httpclient import Client
from .syncer_harness import Pair, pair_fixture, pod_running, virtual_namespace, wait_until
from .webhook_server import WebhookServer, allow, patch_response

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=1)
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
VAP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
VAPB = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"

RUNNER = """\
apiVersion: v1
kind: Pod
metadata:
  name: runner
  namespace: {ns}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: nginx
    stdin: true
"""


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    ws = WebhookServer(tmp_path_factory.mktemp("connect-webhook"))
    yield ws
    ws.stop()


@pytest.fixture(scope="module")
def vapi(pair: Pair) -> Iterator[Client]:
    c = Client(pair.vc.url, pair.vc.ca_file, pair.vc.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def hapi(pair: Pair) -> Iterator[Client]:
    c = Client(pair.host.url, pair.host.ca_file, pair.host.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def vns(pair: Pair) -> str:
    """A virtual namespace (label team=prod) with a running synced pod `runner`."""
    ns = virtual_namespace(pair.kv, "connect-adm")
    pair.kv("label", "namespace", ns, "team=prod")
    pair.kv.apply(RUNNER.format(ns=ns))
    wait_until(lambda: pod_running(pair.kv, "runner", ns), 30, what="virtual pod Running")
    return ns


@pytest.fixture(scope="module")
def hns(pair: Pair) -> str:
    """A host namespace with a running pod `runner` (exec straight against `vcluster host`)."""
    ns = virtual_namespace(pair.kh, "connect-host")
    pair.kh.apply(RUNNER.format(ns=ns))
    wait_until(lambda: pod_running(pair.kh, "runner", ns), 30, what="host pod Running")
    return ns


# ---------------------------------------------------------------------------------------------- helpers
def _webhook(hooks: WebhookServer, path: str, resources: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": extra.pop("name", f"{path.strip('/')}.connect.example.com"),
        "clientConfig": {"url": hooks.url(path), "caBundle": hooks.ca_bundle},
        "rules": [
            {
                "operations": extra.pop("operations", ["CONNECT"]),
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": resources,
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


class Configured:
    """A webhook configuration for the duration of a `with` block."""

    def __init__(self, api: Client, mutating: bool, webhooks: list[dict[str, Any]]) -> None:
        self.api, self.path = api, MWC if mutating else VWC
        self.name = f"cfg-{uuid.uuid4().hex[:8]}"
        kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"
        self.body = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": self.name},
            "webhooks": webhooks,
        }

    def __enter__(self) -> Configured:
        r = self.api.call("POST", self.path, self.body)
        assert r.status == 201, r.body
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.api.call("DELETE", f"{self.path}/{self.name}").status == 200


def _exec(k: Kubectl, ns: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*k.base(), "-n", ns, "exec", *args], input=input, capture_output=True, text=True, timeout=60
    )


def _deny_if(pred: Callable[[dict[str, Any]], bool], message: str) -> Callable[[dict[str, Any]], Any]:
    def fn(review: dict[str, Any]) -> dict[str, Any]:
        if pred(review["request"]):
            return {
                "uid": review["request"]["uid"],
                "allowed": False,
                "status": {"code": 403, "reason": "Forbidden", "message": message},
            }
        return allow(review)

    return fn


def _command_has(word: str) -> Callable[[dict[str, Any]], bool]:
    return lambda req: word in " ".join((req.get("object") or {}).get("command") or [])


# ---------------------------------------------------------------------------------------------- exec
@pytest.mark.parametrize("side", ["virtual", "host"])
def test_validating_webhook_denies_exec_before_it_runs(
    pair: Pair,
    hooks: WebhookServer,
    vapi: Client,
    hapi: Client,
    vns: str,
    hns: str,
    side: str,
    tmp_path: Path,
) -> None:
    k, api, ns = (pair.kv, vapi, vns) if side == "virtual" else (pair.kh, hapi, hns)
    path = f"/deny-exec-{side}"
    hooks.behaviours[path] = _deny_if(_command_has("forbidden"), "no exec into production pods")
    marker = tmp_path / "ran"
    with Configured(api, False, [_webhook(hooks, path, ["pods/exec"])]):
        p = _exec(k, ns, "runner", "--", "sh", "-c", f"touch {marker}; echo forbidden")
        assert p.returncode == 1, p.stderr
        assert (
            f'Error from server (Forbidden): admission webhook "{path[1:]}.connect.example.com" denied the '
            "request: no exec into production pods"
        ) in p.stderr, p.stderr
        assert not marker.exists()  # nothing ran: the denial comes before the upgrade
        # a plain request is denied the same way (the Status, not a 500), before any other check
        r = api.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/exec?command=forbidden&stdout=1")
        assert (r.status, r.body["reason"]) == (403, "Forbidden"), r.body
        assert r.body["message"].endswith("denied the request: no exec into production pods")
        p = _exec(k, ns, "runner", "--", "echo", "allowed")
        assert (p.returncode, p.stdout) == (0, "allowed\n"), p.stderr
    whoami = json.loads(k("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    req = hooks.reviews(path)[-1]["request"]
    assert req["operation"] == "CONNECT"
    assert req["kind"] == {"group": "", "version": "v1", "kind": "PodExecOptions"}
    assert req["requestKind"] == req["kind"]
    assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert (req["subResource"], req["requestSubResource"]) == ("exec", "exec")
    assert (req["name"], req["namespace"], req["dryRun"]) == ("runner", ns, False)
    assert req["object"] == {
        "kind": "PodExecOptions",
        "apiVersion": "v1",
        "stdout": True,
        "stderr": True,
        "container": "main",
        "command": ["echo", "allowed"],
    }
    assert req["oldObject"] is None and req["options"] is None
    assert req["userInfo"]["username"] == whoami["username"]


def test_mutating_webhook_changes_the_command(
    pair: Pair, hooks: WebhookServer, vapi: Client, hapi: Client, vns: str, hns: str
) -> None:
    """A patch of the options is what runs (kube converts the patched options back before Connect),
    through the syncer relay and on the host; the validating webhooks see the patched options."""
    ops = [{"op": "replace", "path": "/command", "value": ["echo", "mutated"]}]
    hooks.behaviours["/mutate-exec"] = lambda review: patch_response(review, ops)
    hooks.behaviours["/after-mutation"] = allow
    for k, api, ns in ((pair.kv, vapi, vns), (pair.kh, hapi, hns)):
        with (
            Configured(api, True, [_webhook(hooks, "/mutate-exec", ["pods/exec"])]),
            Configured(api, False, [_webhook(hooks, "/after-mutation", ["pods/exec"])]),
        ):
            p = _exec(k, ns, "runner", "--", "echo", "original")
            assert (p.returncode, p.stdout) == (0, "mutated\n"), p.stderr
        seen = hooks.reviews("/after-mutation")[-1]["request"]["object"]
        assert seen["command"] == ["echo", "mutated"]
    # a patch that does not decode as PodExecOptions is kube's 500
    bad = [{"op": "add", "path": "/stdin", "value": "yes"}]
    hooks.behaviours["/bad-patch"] = lambda review: patch_response(review, bad)
    with Configured(vapi, True, [_webhook(hooks, "/bad-patch", ["pods/exec"])]):
        r = vapi.call("POST", f"/api/v1/namespaces/{vns}/pods/runner/exec?command=true&stdout=1")
    assert r.status == 500, r.body
    assert r.body["message"] == (
        "Internal error occurred: json: cannot unmarshal string into Go struct field "
        "PodExecOptions.stdin of type bool"
    )


def test_selectors_and_rules_on_connect(pair: Pair, hooks: WebhookServer, vapi: Client, vns: str) -> None:
    """namespaceSelector matches the pod's namespace; an objectSelector never matches options (they
    have no metadata), even one every labelled object would match; a CREATE-only or pods-only rule
    is not called for CONNECT on pods/exec, `pods/*` is."""
    for p in ("/ns-sel", "/obj-sel", "/create-only", "/pods-only", "/pods-star"):
        hooks.behaviours[p] = allow
    webhooks = [
        _webhook(hooks, "/ns-sel", ["pods/exec"], namespaceSelector={"matchLabels": {"team": "prod"}}),
        _webhook(
            hooks,
            "/obj-sel",
            ["pods/exec"],
            objectSelector={"matchExpressions": [{"key": "nothing", "operator": "DoesNotExist"}]},
        ),
        _webhook(hooks, "/create-only", ["pods/exec"], operations=["CREATE"]),
        _webhook(hooks, "/pods-only", ["pods"]),
        _webhook(hooks, "/pods-star", ["pods/*"], operations=["*"]),
    ]
    with Configured(vapi, False, webhooks):
        p = _exec(pair.kv, vns, "runner", "--", "true")
        assert p.returncode == 0, p.stderr
    counts = {
        p: len(hooks.reviews(p)) for p in ("/ns-sel", "/obj-sel", "/create-only", "/pods-only", "/pods-star")
    }
    assert counts["/ns-sel"] >= 1 and counts["/pods-star"] >= 1, counts
    assert counts["/obj-sel"] == counts["/create-only"] == counts["/pods-only"] == 0, counts


# ---------------------------------------------------------------------------------------------- attach
def test_attach_denied_with_its_options(pair: Pair, hooks: WebhookServer, vapi: Client, vns: str) -> None:
    hooks.behaviours["/deny-attach"] = _deny_if(lambda req: True, "attaching is not allowed here")
    with Configured(vapi, False, [_webhook(hooks, "/deny-attach", ["pods/attach"])]):
        p = pair.kv.run("-n", vns, "attach", "runner", "-i", check=False, input="", timeout=30)
    assert p.returncode == 1
    want = "denied the request: attaching is not allowed here"
    assert f'admission webhook "deny-attach.connect.example.com" {want}' in p.stderr, p.stderr
    req = hooks.reviews("/deny-attach")[-1]["request"]
    assert (req["operation"], req["subResource"]) == ("CONNECT", "attach")
    assert req["object"] == {
        "kind": "PodAttachOptions",
        "apiVersion": "v1",
        "stdin": True,
        "stdout": True,
        "stderr": True,
        "container": "main",
    }


# ---------------------------------------------------------------------------------------------- port-forward
@pytest.mark.parametrize("side", ["virtual", "host"])
def test_port_forward_denied(
    pair: Pair, hooks: WebhookServer, vapi: Client, hapi: Client, vns: str, hns: str, side: str
) -> None:
    k, api, ns = (pair.kv, vapi, vns) if side == "virtual" else (pair.kh, hapi, hns)
    path = f"/deny-pf-{side}"
    hooks.behaviours[path] = _deny_if(lambda req: True, "port-forward is disabled")
    with Configured(api, False, [_webhook(hooks, path, ["pods/portforward"])]):
        p = k.run("-n", ns, "port-forward", "pod/runner", ":80", check=False, timeout=30)
        # a plain request with ports: the object carries them
        r = api.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/portforward?ports=8080,9090")
    assert p.returncode == 1
    assert (
        f'admission webhook "{path[1:]}.connect.example.com" denied the request: port-forward is disabled'
        in (p.stderr)
    ), p.stderr
    assert (r.status, r.body["reason"]) == (403, "Forbidden"), r.body
    objects = [rv["request"]["object"] for rv in hooks.reviews(path)]
    assert {"kind": "PodPortForwardOptions", "apiVersion": "v1"} in objects  # kubectl sends no ports
    assert objects[-1] == {"kind": "PodPortForwardOptions", "apiVersion": "v1", "ports": [8080, 9090]}


def test_connect_bad_input(vapi: Client, vns: str) -> None:
    """getRequestOptions' 400s and ConnectResource's dry-run refusal, before admission."""
    base = f"/api/v1/namespaces/{vns}/pods/runner"
    r = vapi.call("POST", f"{base}/portforward?ports=80,http")
    assert (r.status, r.body["reason"]) == (400, "BadRequest"), r.body
    assert r.body["message"] == 'cannot convert to []int32: strconv.ParseUint: parsing "http": invalid syntax'
    r = vapi.call("POST", f"{base}/portforward?ports=70000")
    assert r.body["message"] == (
        'cannot convert to []int32: strconv.ParseUint: parsing "70000": value out of range'
    ), r.body
    r = vapi.call("POST", f"{base}/exec?command=true&stdout=1&dryRun=All")
    assert (r.status, r.body["message"]) == (400, "dryRun is not supported"), r.body


# ---------------------------------------------------------------------------------------------- VAP
def test_validating_admission_policy_on_connect(pair: Pair, vapi: Client, vns: str, tmp_path: Path) -> None:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "no-shell-exec"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "operations": ["CONNECT"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods/exec"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "!object.command.exists(c, c == 'sh')",
                    "messageExpression": (
                        "'no shells in ' + request.namespace + ' (' + request.kind.kind + ')'"
                    ),
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "no-shell-exec-binding"},
        "spec": {"policyName": "no-shell-exec", "validationActions": ["Deny"]},
    }
    assert vapi.call("POST", VAP, policy).status == 201
    assert vapi.call("POST", VAPB, binding).status == 201
    marker = tmp_path / "ran"
    try:
        p = _exec(pair.kv, vns, "runner", "--", "sh", "-c", f"touch {marker}")
        assert p.returncode == 1
        assert (
            'Error from server (Forbidden): pods "runner" is forbidden: ValidatingAdmissionPolicy '
            f"'no-shell-exec' with binding 'no-shell-exec-binding' denied request: no shells in {vns} "
            "(PodExecOptions)"
        ) in p.stderr, p.stderr
        assert not marker.exists()
        p = _exec(pair.kv, vns, "runner", "--", "echo", "fine")
        assert (p.returncode, p.stdout) == (0, "fine\n"), p.stderr
    finally:
        vapi.call("DELETE", f"{VAPB}/no-shell-exec-binding")
        vapi.call("DELETE", f"{VAP}/no-shell-exec")
