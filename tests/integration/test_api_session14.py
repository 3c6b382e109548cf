"""API server gaps closed the way kube-apiserver 1.32 behaves: Authorization headers the bearer-token
authenticator ignores make the request anonymous (not 401), jobs/status writes go through the job
status strategy's validation, and core/v1 Event errors name `reportingComponent`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server, server_fixture
from tests.integration.httpclient import Client

server = server_fixture()

NS = "s14"
FORBIDDEN_NAMESPACES = (
    'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
    "at the cluster scope"
)


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    kubectl = Kubectl(server, tmp_path_factory.mktemp("kcache"))
    kubectl.namespace(NS)
    return kubectl


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


# ---------------------------------------------------------------------------- authentication
@pytest.mark.parametrize(
    "header",
    ["Bearer ", "Bearer", "bearer", "Basic YWRtaW46YWRtaW4=", "some-token", "Bearer  two-spaces"],
)
def test_authorization_headers_the_bearer_authenticator_ignores_are_anonymous(
    api: Client, header: str
) -> None:
    """kube's bearertoken authenticator skips an empty token and other schemes (there is no basic
    auth): the anonymous authenticator takes the request, RBAC refuses it with a 403 Forbidden and
    system:public-info-viewer lets it read /version and the health paths."""
    r = api.call("GET", "/api/v1/namespaces", headers={"Authorization": header})
    assert r.status == 403, r.raw
    assert r.body["reason"] == "Forbidden" and r.body["message"] == FORBIDDEN_NAMESPACES
    assert api.call("GET", "/version", headers={"Authorization": header}).status == 200
    assert api.call("GET", "/readyz", headers={"Authorization": header}).status == 200


def test_a_bearer_token_is_read_up_to_the_next_space(api: Client, server: Server) -> None:
    """The scheme is case-insensitive and the token ends at the next space; an unknown one is a 401."""
    r = api.call("GET", "/api/v1/namespaces", headers={"Authorization": f"bearer {server.token} trailing"})
    assert r.status == 200, r.raw
    r = api.call("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer not-a-token"})
    assert r.status == 401 and r.body["reason"] == "Unauthorized"


# ---------------------------------------------------------------------------- jobs/status
def _external_job(k: Kubectl, name: str) -> None:
    """A Job the built-in controller leaves alone (spec.managedBy), so only the test writes its status."""
    k.create(
        f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {NS}}}\n"
        "spec:\n  managedBy: example.com/other\n  template:\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: c, image: busybox}]\n"
    )


def _status_patch(k: Kubectl, name: str, patch: str, check: bool = False) -> tuple[int, str]:
    p = k.run(
        "patch", "job", name, "-n", NS, "--subresource=status", "--type=merge", "-p", patch, check=check
    )
    return p.returncode, (p.stderr or p.stdout).strip()


def test_job_status_writes_are_validated(k: Kubectl) -> None:
    _external_job(k, "ext")
    code, err = _status_patch(
        k, "ext", '{"status":{"active":-1,"conditions":[{"type":"Complete","status":"True"}]}}'
    )
    assert code != 0
    assert err == (
        'The Job "ext" is invalid: \n'
        "* status.active: Invalid value: -1: must be greater than or equal to 0\n"
        "* status.completionTime: Required value: completionTime is required for Complete jobs\n"
        "* status.startTime: Required value: startTime is required for finished job"
    )
    code, err = _status_patch(
        k,
        "ext",
        '{"status":{"startTime":"2024-01-01T10:00:00Z","completionTime":"2024-01-01T09:00:00Z",'
        '"completedIndexes":"1","uncountedTerminatedPods":{"succeeded":["u1","u1"]}}}',
    )
    assert err == (
        'The Job "ext" is invalid: \n'
        '* status.uncountedTerminatedPods.succeeded[1]: Duplicate value: "u1"\n'
        "* status.completionTime: Invalid value: 2024-01-01 09:00:00 +0000 UTC: cannot set completionTime "
        "when there is no Complete=True condition\n"
        "* status.completionTime: Invalid value: 2024-01-01 09:00:00 +0000 UTC: completionTime cannot be set "
        "before startTime\n"
        '* status.completedIndexes: Invalid value: "1": error parsing completedIndexes: too large index: '
        '"1"\n'
        '* status.completedIndexes: Invalid value: "1": cannot set non-empty completedIndexes when '
        "non-indexed completion mode"
    )
    assert not k.get_json("job", "ext", "-n", NS).get("status")


def test_a_job_finished_by_an_external_controller_stays_finished(k: Kubectl) -> None:
    _external_job(k, "done")
    _status_patch(k, "done", '{"status":{"startTime":"2024-01-01T10:00:00Z","active":1}}', check=True)
    _status_patch(
        k,
        "done",
        '{"status":{"active":0,"succeeded":1,"completionTime":"2024-01-01T11:00:00Z","conditions":['
        '{"type":"SuccessCriteriaMet","status":"True"},{"type":"Complete","status":"True"}]}}',
        check=True,
    )
    status = k.get_json("job", "done", "-n", NS)["status"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    code, err = _status_patch(
        k,
        "done",
        '{"status":{"succeeded":0,"completionTime":"2024-01-01T12:00:00Z","conditions":[]}}',
    )
    assert code != 0
    assert err == (
        'The Job "done" is invalid: \n'
        "* status.completionTime: Invalid value: 2024-01-01 12:00:00 +0000 UTC: cannot set completionTime "
        "when there is no Complete=True condition\n"
        "* status.conditions: Invalid value: cannot disable the terminal Complete=True condition\n"
        "* status.succeeded: Invalid value: 0: cannot decrease the succeeded counter\n"
        "* status.completionTime: Invalid value: 2024-01-01 12:00:00 +0000 UTC: completionTime cannot be "
        "mutated\n"
        "* status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition"
    )
    # an unrelated status write still passes (the rules run on the fields that change)
    _status_patch(k, "done", '{"status":{"ready":0}}', check=True)


# ---------------------------------------------------------------------------- events
def test_core_event_errors_name_reporting_component(k: Kubectl) -> None:
    p = k.run(
        "create",
        "--validate=false",
        "-f",
        "-",
        input=(
            f"apiVersion: v1\nkind: Event\nmetadata: {{name: ev-core, namespace: {NS}}}\n"
            "eventTime: '2024-01-01T00:00:00.000000Z'\n"
            f"involvedObject: {{kind: Pod, name: p, namespace: {NS}}}\n"
            "reportingComponent: 'bad name!'\nreportingInstance: i\naction: A\nreason: R\n"
        ),
        check=False,
    )
    assert p.returncode != 0
    assert p.stderr.strip().startswith(
        'The Event "ev-core" is invalid: reportingComponent: Invalid value: "bad name!": name part must '
    )
