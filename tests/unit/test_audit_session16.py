"""The audit policy checker, its validation, the audit flags and the rotating log file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vcluster.apiserver.audit import AuditContext, Auditor, legacy_line, source_ips
from vcluster.apiserver.auditlog import RotatingFile
from vcluster.apiserver.auditoptions import AuditConfigError, AuditOptions, from_args, parse_duration
from vcluster.apiserver.auditpolicy import PolicyError, load_policy, load_policy_file
from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.rbac_authorizer import Attributes

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))


def res(verb: str, resource: str, ns: str = "", name: str = "", group: str = "", sub: str = "") -> Attributes:
    return Attributes(verb, True, ns, group, "v1", resource, sub, name)


def url(path: str, verb: str = "get") -> Attributes:
    return Attributes(verb, False, path=path)


def policy(rules: str, extra: str = "") -> object:
    return load_policy(f"apiVersion: audit.k8s.io/v1\nkind: Policy\n{extra}rules:\n{rules}")


def test_first_matching_rule_wins_and_default_is_none() -> None:
    p = policy(
        "- level: None\n  users: [system:kube-proxy]\n"
        "- level: RequestResponse\n  userGroups: [devs]\n  verbs: [create]\n"
        "- level: Metadata\n  resources: [{group: apps}]\n"
    )
    assert p.evaluate(ALICE, res("create", "pods")).level == "RequestResponse"
    assert p.evaluate(ALICE, res("get", "pods")).level == "None"  # no rule
    assert p.evaluate(ALICE, res("get", "deployments", group="apps")).level == "Metadata"
    proxy = UserInfo("system:kube-proxy")
    assert p.evaluate(proxy, res("create", "pods")).level == "None"
    assert p.evaluate(None, res("create", "pods")).level == "None"  # userGroups need a user


def test_resources_subresources_names_and_namespaces() -> None:
    p = policy(
        "- level: Request\n  resources: [{resources: ['*/status']}]\n"
        "- level: RequestResponse\n  resources: [{resources: ['pods/*']}]\n"
        "- level: Metadata\n  resources: [{resources: [configmaps], resourceNames: [cfg]}]\n"
        "- level: Metadata\n  namespaces: [kube-system]\n"
        "- level: Request\n  resources: [{resources: ['*']}]\n  namespaces: ['']\n"
    )
    ev = p.evaluate
    assert ev(ALICE, res("update", "deployments", "a", "d", group="", sub="status")).level == "Request"
    assert ev(ALICE, res("get", "pods", "a", "p", sub="log")).level == "RequestResponse"
    # checker.go's "resource/*" compares only the resource: it matches pods itself too
    assert ev(ALICE, res("get", "pods", "a", "p")).level == "RequestResponse"
    assert ev(ALICE, res("get", "services", "a", "s")).level == "None"
    assert ev(ALICE, res("get", "configmaps", "a", "cfg")).level == "Metadata"
    assert ev(ALICE, res("get", "configmaps", "a", "other")).level == "None"
    assert ev(ALICE, res("list", "secrets", "kube-system")).level == "Metadata"
    assert ev(ALICE, res("get", "nodes", "", "n1")).level == "Request"  # cluster scope is namespace ""
    assert ev(ALICE, url("/healthz")).level == "None"  # resource rules never match a URL


def test_non_resource_urls() -> None:
    p = policy(
        "- level: None\n  nonResourceURLs: [/healthz*, /version]\n"
        "- level: Metadata\n  nonResourceURLs: ['*']\n"
    )
    assert p.evaluate(ALICE, url("/healthz/etcd")).level == "None"
    assert p.evaluate(ALICE, url("/version")).level == "None"
    assert p.evaluate(ALICE, url("/versionx")).level == "Metadata"
    assert p.evaluate(ALICE, res("get", "pods")).level == "None"  # URL rules never match a resource


def test_omit_stages_union_and_omit_managed_fields() -> None:
    p = policy(
        "- level: Metadata\n  verbs: [get]\n  omitStages: [ResponseStarted]\n  omitManagedFields: false\n"
        "- level: Request\n",
        extra="omitStages: [RequestReceived]\nomitManagedFields: true\n",
    )
    got = p.evaluate(ALICE, res("get", "pods"))
    assert got.omit_stages == {"RequestReceived", "ResponseStarted"} and got.omit_managed_fields is False
    got = p.evaluate(ALICE, res("list", "pods"))
    assert got.omit_stages == {"RequestReceived"} and got.omit_managed_fields is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n- level: Loud\n", 'rules[0].level: Unsupported value: "Loud": supported values: "None", '),
        ("rules:\n- users: [a]\n", "rules[0].level: Required value"),
        (
            "rules:\n- level: None\n  omitStages: [Started]\n",
            'rules[0].omitStages[0]: Invalid value: "Started"',
        ),
        ("omitStages: [x]\nrules:\n- level: None\n", 'omitStages[0]: Invalid value: "x": allowed stages are'),
        ("rules:\n- level: None\n  nonResourceURLs: ['/a*b']\n", "wildcards '*' must be the final character"),
        (
            "rules:\n- level: None\n  nonResourceURLs: [/a]\n  namespaces: [x]\n",
            'rules[0].nonResourceURLs: Invalid value: []string{"/a"}: rules cannot apply to both',
        ),
        (
            "rules:\n- level: None\n  resources: [{group: Apps}]\n",
            'rules[0].resources.group: Invalid value: "Apps"',
        ),
        (
            "rules:\n- level: None\n  resources: [{resourceNames: [a]}]\n",
            "using resourceNames requires at least one resource",
        ),
        ("rules: []\n", "loaded illegal policy with 0 rules"),
        (
            "rules:\n- level: None\n  users: alice\n",
            "cannot unmarshal string into Go struct field PolicyRule",
        ),
    ],
)
def test_validation_messages(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        load_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + text)
    assert message in str(e.value)


def test_wrong_kind_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(
        PolicyError, match=r'no kind "Policy" is registered for version "audit\.k8s\.io/v1beta1"'
    ):
        load_policy("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n")
    with pytest.raises(PolicyError, match="Object 'Kind' is missing"):
        load_policy("apiVersion: audit.k8s.io/v1\nrules: [{level: None}]\n")
    with pytest.raises(
        PolicyError, match=r'^loading audit policy file: failed to read file path ".*nope.yaml"'
    ):
        load_policy_file(tmp_path / "nope.yaml")
    f = tmp_path / "p.yaml"
    f.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Bad}, {level: Worse}]\n")
    with pytest.raises(PolicyError) as e:
        load_policy_file(f)
    assert str(e.value).startswith('loading audit policy file: [rules[0].level: Unsupported value: "Bad"')
    assert str(e.value).endswith(f"]: from file {f}")


def test_flags_from_extra_args() -> None:
    opts, others = from_args(
        [
            "--audit-log-path",
            "a.log",
            "--audit-log-maxsize=5",
            "--audit-log-compress",
            "--v=2",
            "--audit-log-batch-max-wait=1m30s",
            "--audit-policy-file=/p.yaml",
        ]
    )
    assert opts.log_path == "a.log" and opts.log_maxsize == 5 and opts.log_compress is True
    assert opts.log_batch_max_wait == 90.0 and opts.policy_file == "/p.yaml"
    assert others == ["--v=2"]
    assert opts.under(Path("/data")).log_path == "/data/a.log"
    assert opts.under(Path("/data")).policy_file == "/p.yaml"
    assert AuditOptions(log_path="-").under(Path("/data")).log_path == "-"
    with pytest.raises(AuditConfigError, match='invalid argument "x" for "--audit-log-maxage" flag'):
        from_args(["--audit-log-maxage=x"])
    with pytest.raises(AuditConfigError, match="flag needs an argument: --audit-log-path"):
        from_args(["--audit-log-path"])
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration("5 minutes")


def test_flag_validation() -> None:
    assert AuditOptions(log_maxage=-1).validate() == []  # the log backend is off: nothing checked
    errs = AuditOptions(
        log_path="-", log_maxage=-1, log_format="xml", log_mode="batch", log_batch_max_size=0
    ).validate()
    assert errs == [
        "invalid audit batch log max batch size 0, must be a positive number",
        'invalid audit log format xml, allowed formats are "legacy,json"',
        "--audit-log-maxage -1 can't be a negative number",
    ]


def test_rotation_keeps_backups_by_count_and_age(tmp_path: Path) -> None:
    f = RotatingFile(tmp_path / "audit.log", max_size_mb=1, max_backups=2)
    f.max = 100
    f.ensure()
    for i in range(10):
        f.write(f"{i:049d}\n".encode())  # 50 bytes: two lines a file
    f.close()
    backups = f.backups()
    assert len(backups) == 2
    assert (tmp_path / "audit.log").read_text().count("\n") == 2
    with pytest.raises(OSError, match="write length 101 exceeds maximum file size 100"):
        f.write(b"x" * 101)
    old = f.backup_name(datetime.now(UTC) - timedelta(days=3))
    old.write_text("old\n")
    g = RotatingFile(tmp_path / "audit.log", max_age_days=1, compress=True)
    g.max = 100
    g.write(b"y" * 90)  # the current file is full: rotates first
    g.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert old.name not in names and not any(n == old.name + ".gz" for n in names)
    assert len([n for n in names if n.endswith(".log.gz")]) == 3  # the younger backups, compressed


class _Req:
    path_qs = "/api/v1/namespaces/default/pods?limit=500"
    headers = {"User-Agent": "kubectl/v1.32.4", "X-Forwarded-For": "10.0.0.1, bad, 10.0.0.2"}
    remote = "127.0.0.1"


def test_legacy_line_and_source_ips(tmp_path: Path) -> None:
    assert source_ips(_Req.headers, "127.0.0.1") == ["10.0.0.1", "10.0.0.2", "127.0.0.1"]
    assert source_ips({"X-Real-Ip": "10.0.0.2", "X-Forwarded-For": "10.0.0.2"}, "10.0.0.2") == ["10.0.0.2"]
    lines: list[bytes] = []

    class Backend:
        def submit(self, line: bytes) -> None:
            lines.append(line)

    p = load_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
    auditor = Auditor(p, Backend(), AuditOptions(log_format="legacy"))  # type: ignore[arg-type]
    ctx = auditor.begin(_Req(), "id-1", ALICE, res("list", "pods", "default"), "v1")
    assert isinstance(ctx, AuditContext)
    ctx.response(200, b'{"kind":"PodList"}', "application/json")
    ctx.complete()
    first = lines[0].decode()
    assert ' AUDIT: id="id-1" stage="RequestReceived" ip="10.0.0.1" method="list" user="alice" ' in first
    assert 'groups="\\"devs\\",\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" ' in first
    assert (
        'user-agent="kubectl/v1.32.4" namespace="default" uri="/api/v1/namespaces/default/pods?limit=500" '
        in first
    )
    assert first.endswith('response="<deferred>"\n')
    assert lines[1].decode().endswith('response="200"\n')
    ev = json.loads(json.dumps({"requestReceivedTimestamp": "2024-01-02T03:04:05.120000Z"}))
    ev.update(auditID="a", stage="Panic", verb="get", requestURI="/x", user={})
    assert legacy_line(ev).startswith("2024-01-02T03:04:05.12Z AUDIT:")


class _Lines:
    def __init__(self) -> None:
        self.lines: list[dict[str, object]] = []

    def submit(self, line: bytes) -> None:
        self.lines.append(json.loads(line))


def test_truncation_panic_and_early_close() -> None:
    p = load_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: RequestResponse}]\n")
    out = _Lines()
    opts = AuditOptions(log_truncate_enabled=True, log_truncate_max_event_size=2000)
    auditor = Auditor(p, out, opts)  # type: ignore[arg-type]
    ctx = auditor.begin(_Req(), "t-1", ALICE, res("create", "configmaps", "default"), "v1")
    assert ctx is not None
    ctx.pending_body = (json.dumps({"metadata": {"name": "c"}, "data": {"k": "x" * 1500}}).encode(), "")
    ctx.response(201, json.dumps({"metadata": {"name": "c"}, "data": {"k": "x" * 1500}}).encode(), "")
    ctx.complete()
    done = out.lines[-1]
    assert done["stage"] == "ResponseComplete" and done["objectRef"]["name"] == "c"
    assert "requestObject" not in done and "responseObject" not in done
    assert done["annotations"] == {"audit.k8s.io/truncated": "true"}
    ctx = auditor.begin(_Req(), "t-2", ALICE, res("get", "pods", "default", "p"), "v1")
    assert ctx is not None
    ctx.panic(RuntimeError("boom"))
    ctx.complete()  # nothing more after the Panic event
    assert [e["stage"] for e in out.lines if e["auditID"] == "t-2"] == ["RequestReceived", "Panic"]
    assert out.lines[-1]["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "APIServer panic'd: boom",
        "reason": "InternalError",
        "code": 500,
    }
    ctx = auditor.begin(_Req(), "t-3", ALICE, res("watch", "pods", "default"), "v1")
    assert ctx is not None
    ctx.complete()  # a watch that ended before its headers went out
    evs = [e for e in out.lines if e["auditID"] == "t-3"]
    assert [e["stage"] for e in evs] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert evs[1]["responseStatus"]["message"] == "Connection closed early"
