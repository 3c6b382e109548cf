# ruff: noqa: E501  (expected kube messages are compared whole)
"""kubectl against our API server for the kinds validated in apiserver/validate_*.py: invalid objects
are refused with kube-apiserver 1.32's 422 text and nothing is stored; the objects kubectl examples
and common charts create are accepted; fields that may not change on update are refused."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Kubectl

pytestmark = pytest.mark.integration

NS = "val"
QTY_2 = 'resource.Quantity{i:resource.int64Amount{value:2, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"2", Format:"DecimalSI"}'
QTY_1 = QTY_2.replace("value:2", "value:1").replace('s:"2"', 's:"1"')


@pytest.fixture(scope="module")
def k(module_kubectl: Kubectl) -> Kubectl:
    module_kubectl.namespace(NS)
    return module_kubectl


def _refused(k: Kubectl, manifest: str, *args: str, verb: str = "create") -> str:
    """`kubectl <verb> -f -` expected to fail; its stderr."""
    p = k.run(verb, "--validate=false", "-f", "-", *args, input=manifest, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr.strip()


def _absent(k: Kubectl, *what: str) -> None:
    p = k.run("get", *what, check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr, p.stdout


def _doc(obj: dict) -> str:
    return json.dumps(obj)


# ------------------------------------------------------------------ refused on create
def test_limit_range_min_above_max(k: Kubectl) -> None:
    lr = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "lr-bad", "namespace": NS},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}}]},
    }
    err = _refused(k, _doc(lr))
    # Container defaulting copies max into default and defaultRequest before validation.
    assert err == (
        'The LimitRange "lr-bad" is invalid: \n'
        f"* spec.limits[0].min[cpu]: Invalid value: {QTY_2}: min value 2 is greater than max value 1\n"
        f"* spec.limits[0].defaultRequest[cpu]: Invalid value: {QTY_1}: min value 2 is greater than default "
        "request value 1\n"
        f"* spec.limits[0].default[cpu]: Invalid value: {QTY_2}: min value 2 is greater than default value 1"
    )
    _absent(k, "-n", NS, "limitrange", "lr-bad")


def test_limit_range_types_and_names(k: Kubectl) -> None:
    lr = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "lr-types", "namespace": NS},
        "spec": {
            "limits": [
                {"type": "Node", "max": {"cpu": "1"}},
                {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}},
                {"type": "Pod", "default": {"cpu": "1"}},
                {"type": "Pod"},
            ]
        },
    }
    err = _refused(k, _doc(lr))
    assert err == (
        'The LimitRange "lr-types" is invalid: \n'
        '* spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified\n'
        "* spec.limits[1].limits: Required value: either minimum or maximum storage value is required, but "
        "neither was provided\n"
        "* spec.limits[2].default: Forbidden: may not be specified when `type` is 'Pod'\n"
        '* spec.limits[3].type: Duplicate value: "Pod"'
    )
    _absent(k, "-n", NS, "limitrange", "lr-types")


def test_resource_quota_object_counts_must_be_integers(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: rq-frac, namespace: val}\n"
        "spec:\n  hard: {pods: 500m, count/deployments.apps: 1500m, cpu: 500m}\n",
    )
    half = 'resource.Quantity{i:resource.int64Amount{value:500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"500m", Format:"DecimalSI"}'
    head, *causes = err.split("\n")
    assert head == 'The ResourceQuota "rq-frac" is invalid: '
    assert sorted(causes) == [  # map keys: no fixed order, as with Go's maps
        f"* spec.hard[count/deployments.apps]: Invalid value: {half.replace('500', '1500')}: must be an integer",
        f"* spec.hard[pods]: Invalid value: {half}: must be an integer",
    ]
    _absent(k, "-n", NS, "resourcequota", "rq-frac")


def test_resource_quota_scope_selector_rules(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: rq-sel, namespace: val}\n"
        "spec:\n  hard: {pods: '2'}\n  scopeSelector:\n    matchExpressions:\n"
        "    - {scopeName: Terminating, operator: In, values: [x]}\n"
        "    - {scopeName: Bogus, operator: Exists}\n"
        "    - {scopeName: PriorityClass, operator: In}\n",
    )
    assert err == (
        'The ResourceQuota "rq-sel" is invalid: \n'
        "* spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exists' when scope "
        "is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
        "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity\n"
        '* spec.scopeSelector.matchExpressions.scopeName: Invalid value: "Bogus": unsupported scope\n'
        "* spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when "
        "`operator` is 'In' or 'NotIn' for scope selector"
    )
    _absent(k, "-n", NS, "resourcequota", "rq-sel")


def test_network_policy_ports_peers_and_policy_types(k: Kubectl) -> None:
    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np-bad", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app": "-x"}},
            "ingress": [
                {
                    "ports": [{"port": 8080, "endPort": 80}, {"port": "http", "endPort": 90}],
                    "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}],
                }
            ],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}, "podSelector": {}}]}],
            "policyTypes": ["Ingress", "Sideways"],
        },
    }
    err = _refused(k, _doc(np))
    assert err.startswith(
        'The NetworkPolicy "np-bad" is invalid: \n* spec.podSelector.matchLabels: Invalid value'
    )
    assert err.split("\n")[2:] == [
        "* spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`",
        "* spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "* spec.ingress[0].from[0]: Required value: must specify a peer",
        '* spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of '
        "`cidr`",
        '* spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. '
        "10.9.8.0/24 or 2001:db8::/64)",
        "* spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer",
        '* spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]
    _absent(k, "-n", NS, "networkpolicy", "np-bad")


def test_lease_durations(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: lease-bad, namespace: val}\n"
        "spec: {holderIdentity: me, leaseDurationSeconds: 0, leaseTransitions: -1}\n",
    )
    assert err == (
        'The Lease "lease-bad" is invalid: \n'
        "* spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0\n"
        "* spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"
    )
    _absent(k, "-n", NS, "lease", "lease-bad")


def test_storage_class_fields(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: val-sc-bad}\n"
        "provisioner: Not_Valid!\nreclaimPolicy: Recycle\nvolumeBindingMode: Later\n",
    )
    assert err == (
        'The StorageClass "val-sc-bad" is invalid: \n'
        '* provisioner: Invalid value: "not_valid!": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
        "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n"
        '* reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"\n'
        '* volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"'
    )
    _absent(k, "storageclass", "val-sc-bad")


def test_endpoints_addresses_and_ports(k: Kubectl) -> None:
    ep = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "ep-bad", "namespace": NS},
        "subsets": [
            {
                "addresses": [{"ip": "169.254.1.1"}, {"ip": "10.0.0.300"}],
                "ports": [{"port": 80}, {"port": 0}],
            },
            {"ports": [{"port": 80}]},
        ],
    }
    err = _refused(k, _doc(ep))
    assert err == (
        'The Endpoints "ep-bad" is invalid: \n'
        '* subsets[0].addresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range '
        "(169.254.0.0/16, fe80::/10)\n"
        '* subsets[0].addresses[1].ip: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 '
        "or 2001:db8::ffff)\n"
        '* subsets[0].addresses[1].ip: Invalid value: "10.0.0.300": must be a valid IP address\n'
        "* subsets[0].ports[0].name: Required value\n"
        "* subsets[0].ports[1].name: Required value\n"
        "* subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive\n"
        "* subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"
    )
    _absent(k, "-n", NS, "endpoints", "ep-bad")


def test_persistent_volume_spec(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: val-pv-bad}\n"
        "spec:\n  capacity: {storage: '0'}\n  accessModes: [ReadWriteOncePod, ReadWriteOnce]\n"
        "  local: {path: /mnt/../etc}\n",
    )
    assert err == (
        'The PersistentVolume "val-pv-bad" is invalid: \n'
        "* spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes\n"
        '* spec.capacity[storage]: Invalid value: "0": must be greater than zero\n'
        "* spec.local.path: Invalid value: \"/mnt/../etc\": must not contain '..'\n"
        "* spec.nodeAffinity: Required value: Local volume requires node affinity"
    )
    err = _refused(k, "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: val-pv-bad}\nspec: {}\n")
    assert err == (
        'The PersistentVolume "val-pv-bad" is invalid: \n'
        "* spec.accessModes: Required value\n"
        "* spec.capacity: Required value\n"
        '* spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage"\n'
        "* spec: Required value: must specify a volume type"
    )
    _absent(k, "pv", "val-pv-bad")


def test_ingress_class_controller_and_parameters(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: val-ic-bad}\n"
        "spec:\n  controller: nginx\n  parameters: {kind: IngressParameters, name: p, scope: Namespace}\n",
    )
    assert err == (
        'The IngressClass "val-ic-bad" is invalid: \n'
        '* spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")\n'
        "* spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"
    )
    _absent(k, "ingressclass", "val-ic-bad")


def test_endpoint_slice_addresses_and_ports(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: es-bad, namespace: val}\n"
        "addressType: IPv4\nendpoints:\n- addresses: ['fd00::1']\n- addresses: []\n"
        "ports:\n- {name: http, port: 80}\n- {name: http, port: 81, protocol: ICMP}\n",
    )
    assert err == (
        'The EndpointSlice "es-bad" is invalid: \n'
        '* endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address\n'
        "* endpoints[1].addresses: Required value: must contain at least 1 address\n"
        '* ports[1].name: Duplicate value: "http"\n'
        '* ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'
    )
    err = _refused(
        k, "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: es-bad, namespace: val}\n"
    )
    assert err == 'The EndpointSlice "es-bad" is invalid: addressType: Required value'
    _absent(k, "-n", NS, "endpointslice", "es-bad")


def test_core_event_namespace_must_match(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: v1\nkind: Event\nmetadata: {name: ev-bad, namespace: val}\n"
        "involvedObject: {kind: Pod, name: p, namespace: other}\nreason: Test\n",
    )
    assert err == (
        'The Event "ev-bad" is invalid: involvedObject.namespace: Invalid value: "other": does not match '
        "event.namespace"
    )
    _absent(k, "-n", NS, "event", "ev-bad")


def test_events_v1_event_with_event_time_needs_the_reporting_fields(k: Kubectl) -> None:
    err = _refused(
        k,
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: ev1-bad, namespace: val}\n"
        "eventTime: '2024-01-01T00:00:00.000000Z'\nregarding: {kind: Pod, name: p, namespace: val}\n"
        "type: Normal\n",
    )
    assert err == (
        'The Event "ev1-bad" is invalid: \n'
        "* reportingController: Required value\n"
        '* reportingController: Invalid value: "": name part must be non-empty\n'
        "* reportingController: Invalid value: \"\": name part must consist of alphanumeric characters, '-', "
        "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n"
        "* reportingInstance: Required value\n"
        "* action: Required value\n"
        "* reason: Required value"
    )
    _absent(k, "-n", NS, "events.events.k8s.io", "ev1-bad")


def test_events_v1_writes_get_the_strict_rules_and_may_be_patched(k: Kubectl) -> None:
    """events.k8s.io/v1 Events are stored as core/v1 Events, but validated as the version written
    (ValidateEventCreate/Update with the request version), and PUT and PATCH work as upstream
    (client-go's events recorder patches series)."""
    base = (
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: NAME, namespace: val}\n"
        "eventTime: '2024-01-01T00:00:00.000000Z'\nregarding: {kind: Pod, name: p, namespace: val}\n"
        "reason: Scheduled\naction: Binding\nnote: assigned\nreportingController: default-scheduler\n"
        "reportingInstance: default-scheduler-node-1\n"
    )
    err = _refused(k, base.replace("NAME", "ev1-strict") + "type: Fine\ndeprecatedCount: 2\n")
    assert err == (
        'The Event "ev1-strict" is invalid: \n* type: Invalid value: "": has invalid value: Fine\n'
        '* count: Invalid value: "": needs to be unset'
    )
    _absent(k, "-n", NS, "events.events.k8s.io", "ev1-strict")
    # the same object written as core/v1 gets the legacy rules only
    k.create(
        "apiVersion: v1\nkind: Event\nmetadata: {name: ev-legacy, namespace: val}\n"
        "involvedObject: {kind: Pod, name: p, namespace: val}\ntype: Fine\ncount: 2\n"
    )

    k.create(base.replace("NAME", "ev1-patch") + "type: Normal\n")
    series = '{"series":{"count":2,"lastObservedTime":"2024-01-01T00:01:00.000000Z"}}'
    k("-n", NS, "patch", "events.events.k8s.io", "ev1-patch", "--type", "merge", "-p", series)
    got = json.loads(k("-n", NS, "get", "events.events.k8s.io", "ev1-patch", "-o", "json"))
    assert got["series"] == {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"}
    assert json.loads(k("-n", NS, "get", "events.v1.", "ev1-patch", "-o", "json"))["series"]["count"] == 2
    p = k.run(
        "-n", NS, "patch", "events.events.k8s.io", "ev1-patch", "--type", "strategic", "-p", '{"note":"x"}',
        check=False,
    )  # fmt: skip
    assert p.returncode != 0
    assert (
        p.stderr.strip()
        == 'The Event "ev1-patch" is invalid: message: Invalid value: "x": field is immutable'
    )
    got["metadata"]["labels"] = {"kept": "yes"}
    k.run("replace", "-f", "-", input=json.dumps(got))
    labels = json.loads(k("-n", NS, "get", "events.events.k8s.io", "ev1-patch", "-o", "json"))["metadata"]
    assert labels["labels"] == {"kept": "yes"}


# ------------------------------------------------------------------ accepted
VALID = """
apiVersion: v1
kind: LimitRange
metadata: {name: lr-ok, namespace: val}
spec:
  limits:
  - {type: Container, default: {cpu: 500m, memory: 512Mi}, defaultRequest: {cpu: 100m}, max: {cpu: '2'},
     min: {cpu: 50m}, maxLimitRequestRatio: {cpu: '10'}}
  - {type: Pod, max: {memory: 2Gi}}
  - {type: PersistentVolumeClaim, min: {storage: 1Gi}, max: {storage: 10Gi}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: rq-ok, namespace: val}
spec:
  hard: {pods: '10', count/deployments.apps: '2', requests.cpu: 500m, nvidia.com/gpu: '1'}
  scopeSelector:
    matchExpressions:
    - {scopeName: PriorityClass, operator: In, values: [high]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-ok, namespace: val}
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
    - namespaceSelector: {matchLabels: {project: myproject}}
      podSelector: {matchLabels: {role: frontend}}
    ports: [{protocol: TCP, port: 6379}, {port: 32000, endPort: 32768}]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/24}}]
    ports: [{protocol: TCP, port: 5978}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease-ok, namespace: val}
spec: {holderIdentity: me, leaseDurationSeconds: 15, leaseTransitions: 0,
       renewTime: '2024-01-01T00:00:00.000000Z'}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: val-sc-ok}
provisioner: rancher.io/local-path
parameters: {type: gp3}
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [us-east-1a]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep-ok, namespace: val}
subsets:
- addresses: [{ip: 10.0.0.5, hostname: web-0, nodeName: node-1}]
  notReadyAddresses: [{ip: 'fd00::5'}]
  ports: [{name: http, port: 80}, {name: https, port: 443, appProtocol: https}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: val-pv-ok}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Recycle
  storageClassName: slow
  nfs: {server: 172.17.0.2, path: /tmp}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: val-pv-local}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: val-ic-ok}
spec:
  controller: k8s.io/ingress-nginx
  parameters: {apiGroup: k8s.example.com, kind: IngressParameters, name: external-lb}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: es-ok, namespace: val, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.1.2.3]
  conditions: {ready: true}
  hostname: pod-1
  nodeName: node-1
  zone: us-west2-a
ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: v1
kind: Event
metadata: {name: ev-ok, namespace: val}
involvedObject: {kind: Pod, name: p, namespace: val}
reason: Started
message: Started container
type: Normal
count: 1
firstTimestamp: '2024-01-01T00:00:00Z'
lastTimestamp: '2024-01-01T00:00:00Z'
source: {component: kubelet, host: node-1}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: ev1-ok, namespace: val}
eventTime: '2024-01-01T00:00:00.000000Z'
regarding: {kind: Pod, name: p, namespace: val}
reason: Scheduled
action: Binding
note: assigned
type: Normal
reportingController: default-scheduler
reportingInstance: default-scheduler-node-1
"""


@pytest.fixture(scope="module")
def valid(k: Kubectl) -> Kubectl:
    k.create(VALID)
    return k


def test_valid_objects_are_stored(valid: Kubectl) -> None:
    names = valid("-n", NS, "get", "limits,quota,netpol,lease,ep,endpointslice,ev", "-o", "name").split()
    for expected in (
        "limitrange/lr-ok",
        "resourcequota/rq-ok",
        "networkpolicy.networking.k8s.io/np-ok",
        "lease.coordination.k8s.io/lease-ok",
        "endpoints/ep-ok",
        "endpointslice.discovery.k8s.io/es-ok",
        "event/ev-ok",
        "event/ev1-ok",
    ):
        assert expected in names
    assert valid("get", "sc,pv,ingressclass", "-o", "name").split() == [
        "storageclass.storage.k8s.io/val-sc-ok",
        "persistentvolume/val-pv-local",
        "persistentvolume/val-pv-ok",
        "ingressclass.networking.k8s.io/val-ic-ok",
    ]


# ------------------------------------------------------------------ refused on update
def test_storage_class_update_is_refused(valid: Kubectl) -> None:
    err = _refused(
        valid,
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: val-sc-ok}\n"
        "provisioner: ebs.csi.aws.com\nparameters: {type: gp2}\nreclaimPolicy: Retain\n"
        "volumeBindingMode: Immediate\n",
        verb="replace",
    )
    assert err == (
        'The StorageClass "val-sc-ok" is invalid: \n'
        "* parameters: Forbidden: updates to parameters are forbidden.\n"
        "* provisioner: Forbidden: updates to provisioner are forbidden.\n"
        "* reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.\n"
        '* volumeBindingMode: Invalid value: "Immediate": field is immutable'
    )
    assert valid("get", "sc", "val-sc-ok", "-o", "jsonpath={.provisioner}") == "rancher.io/local-path"


def test_endpoint_slice_address_type_is_immutable(valid: Kubectl) -> None:
    p = valid.run(
        "-n",
        NS,
        "patch",
        "endpointslice",
        "es-ok",
        "--type=merge",
        "-p",
        '{"addressType":"FQDN"}',
        check=False,
    )
    assert p.returncode != 0
    assert p.stderr.strip() == (
        'The EndpointSlice "es-ok" is invalid: addressType: Invalid value: "FQDN": field is immutable'
    )
    assert valid("-n", NS, "get", "endpointslice", "es-ok", "-o", "jsonpath={.addressType}") == "IPv4"


def test_persistent_volume_source_is_immutable_but_capacity_may_change(valid: Kubectl) -> None:
    p = valid.run(
        "patch", "pv", "val-pv-ok", "--type=merge", "-p", '{"spec":{"nfs":{"path":"/srv"}}}', check=False
    )
    assert p.returncode != 0
    assert p.stderr.startswith(
        'The PersistentVolume "val-pv-ok" is invalid: spec.persistentvolumesource: Forbidden: '
        "spec.persistentvolumesource is immutable after creation\n"
    )
    valid("patch", "pv", "val-pv-ok", "--type=merge", "-p", '{"spec":{"capacity":{"storage":"10Gi"}}}')
    assert valid("get", "pv", "val-pv-ok", "-o", "jsonpath={.spec.capacity.storage}") == "10Gi"
    p = valid.run(
        "patch", "pv", "val-pv-ok", "--type=merge", "-p", '{"spec":{"volumeMode":"Block"}}', check=False
    )
    assert p.stderr.strip() == (
        'The PersistentVolume "val-pv-ok" is invalid: volumeMode: Invalid value: "Block": field is immutable'
    )


def test_ingress_class_controller_is_immutable(valid: Kubectl) -> None:
    p = valid.run(
        "patch",
        "ingressclass",
        "val-ic-ok",
        "--type=merge",
        "-p",
        '{"spec":{"controller":"example.com/other"}}',
        check=False,
    )
    assert p.stderr.strip() == (
        'The IngressClass "val-ic-ok" is invalid: spec.controller: Invalid value: "example.com/other": '
        "field is immutable"
    )


def test_resource_quota_update_keeps_integer_rule(valid: Kubectl) -> None:
    p = valid.run(
        "-n",
        NS,
        "patch",
        "quota",
        "rq-ok",
        "--type=merge",
        "-p",
        '{"spec":{"hard":{"pods":"2.5"}}}',
        check=False,
    )
    assert p.returncode != 0
    assert p.stderr.startswith('The ResourceQuota "rq-ok" is invalid: spec.hard[pods]: Invalid value: ')
    assert p.stderr.strip().endswith(": must be an integer")
    assert valid("-n", NS, "get", "quota", "rq-ok", "-o", "jsonpath={.spec.hard.pods}") == "10"
