"""storage.k8s.io/v1 VolumeAttachments (cluster-scoped, `/status`) and CSIStorageCapacities
(namespaced) as kube-apiserver 1.32 serves them: kubectl create/get/delete and explain, the tables,
the strategies (status dropped on create, kept by the main endpoint, fixed spec) and validation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import Kubectl, Server, parse_table, server_fixture
from .httpclient import Client

pytestmark = pytest.mark.integration

server = server_fixture()
ST = "/apis/storage.k8s.io/v1"

VA = """apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata:
  name: va1
spec:
  attacher: csi.example.com
  nodeName: node-1
  source:
    persistentVolumeName: pv-1
status:
  attached: true
"""

CAP = """apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata:
  name: cap1
  namespace: {ns}
storageClassName: standard
capacity: 10Gi
maximumVolumeSize: 1Gi
nodeTopology:
  matchLabels:
    topology.kubernetes.io/zone: a
"""


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def _causes(body: dict) -> list[tuple[str, str]]:
    return [(c.get("field", ""), c["message"]) for c in body["details"]["causes"]]


def test_api_resources_and_explain(k: Kubectl) -> None:
    _, rows = parse_table(k("api-resources", "--api-group=storage.k8s.io"))
    table = {r["NAME"]: r for r in rows}
    assert table["volumeattachments"]["NAMESPACED"] == "false"
    assert table["volumeattachments"]["KIND"] == "VolumeAttachment"
    assert table["csistoragecapacities"]["NAMESPACED"] == "true"
    assert table["csistoragecapacities"]["KIND"] == "CSIStorageCapacity"
    assert "persistentVolumeName" in k("explain", "volumeattachment.spec.source")
    assert "maximumVolumeSize" in k("explain", "csistoragecapacity")


def test_volume_attachment_lifecycle(k: Kubectl, api: Client) -> None:
    assert "volumeattachment.storage.k8s.io/va1 created" in k.create(VA)
    va = k.get_json("volumeattachment", "va1")
    # PrepareForCreate drops the status; Go writes the struct and its non-omitempty `attached`
    assert va["status"] == {"attached": False}
    headers, rows = parse_table(k("get", "volumeattachments"))
    assert headers == ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]
    assert [rows[0][h] for h in headers[:5]] == ["va1", "csi.example.com", "pv-1", "node-1", "false"]

    # the attacher reports through /status; the main endpoint keeps it and the spec is fixed
    status = {"status": {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvdb"}}}
    merge = {"Content-Type": "application/merge-patch+json"}
    r = api.call("PATCH", f"{ST}/volumeattachments/va1/status", status, headers=merge)
    assert r.status == 200, r.body
    assert parse_table(k("get", "volumeattachment", "va1"))[1][0]["ATTACHED"] == "true"
    r = api.call("PATCH", f"{ST}/volumeattachments/va1", {"status": {"attached": False}}, headers=merge)
    assert r.status == 200 and r.body["status"]["attached"] is True
    r = api.call("PATCH", f"{ST}/volumeattachments/va1", {"spec": {"nodeName": "node-2"}}, headers=merge)
    assert r.status == 422, r.body
    assert _causes(r.body) == [
        (
            "spec",
            'Invalid value: storage.VolumeAttachmentSpec{Attacher:"csi.example.com", '
            "Source:storage.VolumeAttachmentSource{PersistentVolumeName:(*string)(0xc000000000), "
            'InlineVolumeSpec:(*core.PersistentVolumeSpec)(nil)}, NodeName:"node-2"}: field is immutable',
        )
    ]
    big = {"status": {"attachError": {"message": "x" * 1025}}}
    r = api.call("PATCH", f"{ST}/volumeattachments/va1/status", big, headers=merge)
    assert r.status == 422
    # ValidateVolumeAttachmentUpdate validates the object once more: the cause twice, the message once
    assert (
        _causes(r.body) == [("status.attachError.message", "Too long: may not be more than 262144 bytes")] * 2
    )
    assert r.body["message"].endswith(
        "status.attachError.message: Too long: may not be more than 262144 bytes"
    )

    r = api.call("DELETE", f"{ST}/volumeattachments/va1")
    assert r.status == 200 and r.body["kind"] == "VolumeAttachment"  # ReturnDeletedObject
    assert api.call("GET", f"{ST}/volumeattachments/va1").status == 404


def test_volume_attachment_validation(api: Client) -> None:
    body = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "VolumeAttachment",
        "metadata": {"name": "bad"},
        "spec": {"attacher": "", "nodeName": "Node_1", "source": {}},
    }
    r = api.call("POST", f"{ST}/volumeattachments", body)
    assert r.status == 422 and r.body["reason"] == "Invalid", r.body
    subdomain = (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert _causes(r.body) == [
        ("spec.attacher", "Required value"),
        (
            "spec.source",
            "Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        ),
        ("spec.nodeName", f'Invalid value: "Node_1": {subdomain}'),
        ("spec.attacher", "Required value"),
        ("spec.attacher", f'Invalid value: "": {subdomain}'),
    ]
    body["spec"] = {
        "attacher": "csi.example.com",
        "nodeName": "n1",
        "source": {"persistentVolumeName": "pv", "inlineVolumeSpec": {}},
    }
    r = api.call("POST", f"{ST}/volumeattachments", body)
    assert _causes(r.body) == [
        ("spec.source", "Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName")
    ]
    body["spec"]["source"] = {
        "inlineVolumeSpec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "nfs": {"server": "s", "path": "/x"},
        }
    }
    r = api.call("POST", f"{ST}/volumeattachments", body)
    assert r.status == 422
    assert _causes(r.body) == [
        (
            "spec.source.inlineVolumeSpec.capacity",
            "Forbidden: may not be specified in the context of inline volumes",
        ),
        (
            "spec.source.inlineVolumeSpec.csi",
            "Required value: has to be specified in the context of inline volumes",
        ),
    ]
    body["spec"]["source"] = {
        "inlineVolumeSpec": {
            "accessModes": ["ReadWriteOnce"],
            "csi": {"driver": "csi.example.com", "volumeHandle": "h"},
        }
    }
    r = api.call("POST", f"{ST}/volumeattachments", body)
    assert r.status == 201, r.body
    inline = r.body["spec"]["source"]["inlineVolumeSpec"]
    assert (inline["persistentVolumeReclaimPolicy"], inline["volumeMode"]) == ("Retain", "Filesystem")
    assert api.call("DELETE", f"{ST}/volumeattachments/bad").status == 200


def test_csi_storage_capacity(k: Kubectl, api: Client) -> None:
    ns = k.namespace("capns")
    assert "csistoragecapacity.storage.k8s.io/cap1 created" in k.create(CAP.format(ns=ns))
    out = k("get", "csistoragecapacities", "-n", ns).splitlines()
    assert out[0].split() == ["NAME", "CREATED", "AT"]  # rest.NewDefaultTableConvertor, as upstream
    assert out[1].split()[0] == "cap1"
    table = api.call(
        "GET",
        f"{ST}/namespaces/{ns}/csistoragecapacities",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    assert [c["name"] for c in table.body["columnDefinitions"]] == ["Name", "Created At"]
    assert table.body["rows"][0]["cells"][0] == "cap1"
    cap = k.get_json("csistoragecapacity", "cap1", "-n", ns)
    assert (cap["capacity"], cap["maximumVolumeSize"], cap["storageClassName"]) == ("10Gi", "1Gi", "standard")

    merge = {"Content-Type": "application/merge-patch+json"}
    path = f"{ST}/namespaces/{ns}/csistoragecapacities/cap1"
    r = api.call("PATCH", path, {"capacity": "20Gi"}, headers=merge)
    assert r.status == 200 and r.body["capacity"] == "20Gi"
    r = api.call("PATCH", path, {"storageClassName": "fast", "nodeTopology": None}, headers=merge)
    assert r.status == 422, r.body
    assert _causes(r.body) == [
        ("nodeTopology", 'Invalid value: "null": field is immutable'),
        ("storageClassName", 'Invalid value: "fast": field is immutable'),
    ]
    bad = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIStorageCapacity",
        "metadata": {"name": "cap2", "namespace": ns},
        "storageClassName": "",
        "capacity": "-1",
        "nodeTopology": {"matchExpressions": [{"key": "zone", "operator": "In"}]},
    }
    r = api.call("POST", f"{ST}/namespaces/{ns}/csistoragecapacities", bad)
    assert r.status == 422
    fields = [f for f, _ in _causes(r.body)]
    assert fields == ["nodeTopology.matchExpressions[0].values", "storageClassName", "capacity"]
    assert _causes(r.body)[2] == ("capacity", 'Invalid value: "-1": must be greater than or equal to 0')
    assert 'csistoragecapacity.storage.k8s.io "cap1" deleted' in k(
        "delete", "csistoragecapacity", "cap1", "-n", ns
    )
    r = api.call("DELETE", path)
    assert r.status == 404
