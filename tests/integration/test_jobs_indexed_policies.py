"""Jobs as Kubernetes 1.32 runs them: backoffLimitPerIndex / maxFailedIndexes / FailIndex,
successPolicy, the interim FailureTarget / SuccessCriteriaMet conditions before Failed / Complete,
and the batch validation messages the real kubectl shows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server, parse_table
from tests.integration.test_controllers_workloads import Harness, _ns, _pod_status, mark_finished, wait_for
from vcluster.client import Client

pytestmark = pytest.mark.integration

FAILURES = "batch.kubernetes.io/job-index-failure-count"
IGNORED = "batch.kubernetes.io/job-index-ignored-failure-count"
INDEX = "batch.kubernetes.io/job-completion-index"


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"job"}, {"job": {"pod_failure_backoff": 0.05}}).start()
    try:
        yield h
    finally:
        h.stop()


async def fail_with(client: Client, pod: dict, code: int) -> dict:
    """Mark a pod Failed, its containers terminated with exit code `code`."""
    status = _pod_status(pod, "Failed", False)
    for cs in status["containerStatuses"]:
        cs["state"]["terminated"]["exitCode"] = code
    md = pod["metadata"]
    return await client.patch(
        "v1", "pods", md["name"], {"status": status}, md["namespace"], subresource="status"
    )


def _job(h: Harness, ns: str, name: str) -> dict:
    return h.get("batch/v1", "jobs", name, ns)


def _conds(job: dict) -> list[str]:
    return [c["type"] for c in job["status"].get("conditions") or [] if c["status"] == "True"]


def _cond(job: dict, ctype: str) -> dict:
    return next(c for c in job["status"]["conditions"] if c["type"] == ctype)


def _running(h: Harness, ns: str, job: str, index: int | None = None) -> list[dict]:
    return [
        p
        for p in h.pods(ns, f"job-name={job}")
        if p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and (index is None or p["metadata"]["annotations"].get(INDEX) == str(index))
    ]


def _one_running(h: Harness, ns: str, job: str, index: int) -> dict:
    return wait_for(lambda: _running(h, ns, job, index), what=f"a running pod of index {index}")[0]


def _indexed_job(name: str, extra: str) -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
  completionMode: Indexed
{extra}
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox}}]
"""


def test_backoff_limit_per_index_retries_each_index_then_fails_with_failed_indexes(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "per-index")
    k.apply(_indexed_job("pi", "  completions: 3\n  parallelism: 3\n  backoffLimitPerIndex: 1"), "-n", ns)
    job = _job(h, ns, "pi")
    assert job["spec"]["backoffLimit"] == 2**31 - 1  # defaulted to MaxInt32 with backoffLimitPerIndex
    first = _one_running(h, ns, "pi", 0)
    assert first["metadata"]["annotations"][FAILURES] == "0"
    h.api(lambda c: fail_with(c, first, 1))
    # The replacement in index 0 carries the failure count; the failed pod keeps its finalizer
    # until then, so the count can be handed over.
    second = wait_for(
        lambda: [p for p in _running(h, ns, "pi", 0) if p["metadata"]["name"] != first["metadata"]["name"]],
        what="the replacement of index 0",
    )[0]
    assert second["metadata"]["annotations"][FAILURES] == "1"
    assert IGNORED not in second["metadata"]["annotations"]
    job = wait_for(lambda: (j := _job(h, ns, "pi"))["status"].get("failed") == 1 and j, what="failed=1")
    assert job["status"]["failedIndexes"] == ""
    h.api(lambda c: fail_with(c, second, 1))
    job = wait_for(lambda: (j := _job(h, ns, "pi"))["status"].get("failedIndexes") == "0" and j)
    assert "FailureTarget" not in _conds(job)  # indexes 1 and 2 still run
    assert not _running(h, ns, "pi", 0)  # index 0 is not retried again
    for ix in (1, 2):
        pod = _one_running(h, ns, "pi", ix)
        h.api(lambda c, pod=pod: mark_finished(c, pod))
    job = wait_for(lambda: "Failed" in _conds(j := _job(h, ns, "pi")) and j, what="Failed")
    assert _conds(job) == ["FailureTarget", "Failed"]
    for ctype in ("FailureTarget", "Failed"):
        assert (_cond(job, ctype)["reason"], _cond(job, ctype)["message"]) == (
            "FailedIndexes",
            "Job has failed indexes",
        )
    st = job["status"]
    assert (st["failedIndexes"], st["completedIndexes"], st["succeeded"], st["failed"]) == ("0", "1,2", 2, 2)
    # active is omitempty (dropped at 0); terminating is a pointer (kept)
    assert "active" not in st and st["terminating"] == 0 and "completionTime" not in st
    rows = parse_table(k("get", "job", "pi", "-n", ns))[1]
    assert rows[0]["STATUS"] == "Failed" and rows[0]["COMPLETIONS"] == "2/3"


def test_fail_index_and_ignore_rules_with_max_failed_indexes(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "max-failed")
    extra = """  completions: 4
  parallelism: 2
  backoffLimitPerIndex: 3
  maxFailedIndexes: 0
  podFailurePolicy:
    rules:
    - {action: Ignore, onExitCodes: {operator: In, values: [2]}}
    - {action: FailIndex, onExitCodes: {operator: In, values: [42]}}"""
    k.apply(_indexed_job("mf", extra), "-n", ns)
    pod = _one_running(h, ns, "mf", 0)
    h.api(lambda c: fail_with(c, pod, 2))  # ignored: retried, counted as ignored
    again = wait_for(
        lambda: [p for p in _running(h, ns, "mf", 0) if p["metadata"]["name"] != pod["metadata"]["name"]]
    )[0]
    assert (again["metadata"]["annotations"][FAILURES], again["metadata"]["annotations"][IGNORED]) == (
        "0",
        "1",
    )
    other = _one_running(h, ns, "mf", 1)
    h.api(lambda c: fail_with(c, again, 42))  # FailIndex: index 0 fails at once; 1 > maxFailedIndexes 0
    job = wait_for(lambda: "Failed" in _conds(j := _job(h, ns, "mf")) and j, what="Failed")
    assert _conds(job) == ["FailureTarget", "Failed"]
    assert _cond(job, "Failed")["reason"] == "MaxFailedIndexesExceeded"
    assert (
        _cond(job, "Failed")["message"] == "Job has exceeded the specified maximal number of failed indexes"
    )
    st = job["status"]
    # The ignored failure is not counted; the pod of index 1, removed when the job failed, is.
    assert (st["failedIndexes"], st["failed"]) == ("0", 2)
    assert "succeeded" not in st and "active" not in st  # omitempty counters at 0
    wait_for(
        lambda: (
            not [p for p in h.pods(ns, "job-name=mf") if p["metadata"]["name"] == other["metadata"]["name"]]
        )
    )
    assert not [p for p in h.pods(ns, "job-name=mf") if p["metadata"].get("finalizers")]


def test_success_policy_meets_criteria_then_completes(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "success-policy")
    extra = """  completions: 5
  parallelism: 5
  successPolicy:
    rules:
    - {succeededIndexes: "0-2", succeededCount: 2}"""
    k.apply(_indexed_job("sp", extra), "-n", ns)
    wait_for(lambda: len(_running(h, ns, "sp")) == 5, what="5 running pods")
    for ix in (0, 2):
        pod = _one_running(h, ns, "sp", ix)
        h.api(lambda c, pod=pod: mark_finished(c, pod))
    job = wait_for(lambda: "Complete" in _conds(j := _job(h, ns, "sp")) and j, what="Complete")
    assert _conds(job) == ["SuccessCriteriaMet", "Complete"]
    for ctype in ("SuccessCriteriaMet", "Complete"):
        assert (_cond(job, ctype)["reason"], _cond(job, ctype)["message"]) == (
            "SuccessPolicy",
            "Matched rules at index 0",
        )
    st = job["status"]
    assert (st["completedIndexes"], st["succeeded"]) == ("0,2", 2)
    assert "failed" not in st and "active" not in st  # omitempty counters at 0
    assert st["completionTime"] and "failedIndexes" not in st and st["uncountedTerminatedPods"] == {}
    # The remaining pods were removed and not counted as failed.
    wait_for(lambda: len(h.pods(ns, "job-name=sp")) == 2, what="the lingering pods removed")
    rows = parse_table(k("get", "job", "sp", "-n", ns))[1]
    assert rows[0]["STATUS"] == "Complete" and rows[0]["COMPLETIONS"] == "2/5"


def test_failed_waits_for_terminating_pods_after_failure_target(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "terminating")
    k.apply(
        """
apiVersion: batch/v1
kind: Job
metadata: {name: tt}
spec:
  parallelism: 2
  completions: 2
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
""",
        "-n",
        ns,
    )
    pods = wait_for(lambda: len(p := _running(h, ns, "tt")) == 2 and p, what="2 running pods")
    slow, failing = pods
    # A finalizer of someone else keeps the deleted pod terminating.
    patch = {"metadata": {"finalizers": [*slow["metadata"]["finalizers"], "test.example/hold"]}}
    h.api(lambda c: c.patch("v1", "pods", slow["metadata"]["name"], patch, ns))
    h.api(lambda c: fail_with(c, failing, 1))
    job = wait_for(
        lambda: (
            (j := _job(h, ns, "tt"))["status"].get("terminating") == 1 and "FailureTarget" in _conds(j) and j
        ),
        what="FailureTarget with one terminating pod",
    )
    assert "Failed" not in _conds(job) and "active" not in job["status"]
    assert _cond(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    rows = parse_table(k("get", "job", "tt", "-n", ns))[1]
    assert rows[0]["STATUS"] == "FailureTarget"
    h.api(lambda c: c.patch("v1", "pods", slow["metadata"]["name"], {"metadata": {"finalizers": None}}, ns))
    job = wait_for(lambda: "Failed" in _conds(j := _job(h, ns, "tt")) and j, what="Failed")
    assert _conds(job) == ["FailureTarget", "Failed"]
    assert (job["status"]["terminating"], job["status"]["failed"]) == (0, 2)


# --------------------------------------------------------------------------- validation


def _rejected(k: Kubectl, manifest: str, *args: str) -> str:
    p = k.run("create", "--validate=false", "-f", "-", *args, input=manifest, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr.strip()


JOB_HEAD = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: v}\nspec:\n"
POD = "  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox}]\n"


FAIL_INDEX = "    - {action: FailIndex, onExitCodes: {operator: In, values: [1]}}\n"
BAD_RULES = "    - {action: Count, onExitCodes: {operator: In, values: [0, 3, 2], containerName: x}}\n"
RULES = "spec.podFailurePolicy.rules"
SUCCESS_RULE = "spec.successPolicy.rules[0]"


@pytest.mark.parametrize(
    ("spec", "causes"),
    [
        (
            "  backoffLimitPerIndex: 1\n",
            ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"],
        ),
        (
            "  completionMode: Indexed\n  completions: 2\n  maxFailedIndexes: 3\n",
            [
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
            ],
        ),
        (
            "  completionMode: Indexed\n  completions: 2\n  podFailurePolicy:\n    rules:\n" + FAIL_INDEX,
            [f'{RULES}[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set'],
        ),
        (
            "  completions: 2\n  successPolicy:\n    rules: [{succeededCount: 1}]\n",
            [
                "spec.successPolicy: Invalid value: batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{"
                "batch.SuccessPolicyRule{SucceededIndexes:(*string)(nil), "
                "SucceededCount:(*int32)(0xc000010000)}}}: requires indexed completion mode"
            ],
        ),
        (
            "  completionMode: Indexed\n  completions: 3\n  successPolicy:\n"
            '    rules: [{succeededIndexes: "0-3", succeededCount: 4}]\n',
            [
                f'{SUCCESS_RULE}.succeededIndexes: Invalid value: "0-3": error parsing succeededIndexes: '
                'too large index: "3"',
                f"{SUCCESS_RULE}.succeededCount: Invalid value: 4: must be less than or equal to 3 "
                "(the number of specified completions)",
                f"{SUCCESS_RULE}.succeededCount: Invalid value: 4: must be less than or equal to 0 "
                "(the number of indexes in the specified succeededIndexes field)",
            ],
        ),
        (
            "  completionMode: Indexed\n  completions: 3\n  successPolicy: {rules: []}\n",
            [
                "spec.successPolicy.rules: Required value: at least one rules must be specified when the "
                "successPolicy is specified"
            ],
        ),
        (
            "  podFailurePolicy:\n    rules:\n" + BAD_RULES + "    - {action: Ignore}\n",
            [
                f'{RULES}[0].onExitCodes.containerName: Invalid value: "x": must be one of the container or '
                "initContainer names in the pod template",
                f"{RULES}[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
                f"{RULES}[0].onExitCodes.values: Invalid value: []int32{{0, 3, 2}}: must be ordered",
                f"{RULES}[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            ],
        ),
        (
            "  completionMode: Indexed\n  completions: 10\n  parallelism: 100001\n",
            [
                "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when "
                "completion mode is Indexed"
            ],
        ),
        (
            "  managedBy: not-a-path\n",
            [
                'spec.managedBy: Invalid value: "not-a-path": must be a domain-prefixed path '
                '(such as "acme.io/foo")'
            ],
        ),
    ],
)
def test_job_spec_validation_messages(module_kubectl: Kubectl, spec: str, causes: list[str]) -> None:
    err = _rejected(module_kubectl, JOB_HEAD + spec + POD, "-n", "default")
    assert err == _kubectl_invalid("Job", "v", causes)


def _kubectl_invalid(kind: str, name: str, causes: list[str]) -> str:
    """How kubectl prints a 422: one cause inline, several as a list."""
    if len(causes) == 1:
        return f'The {kind} "{name}" is invalid: {causes[0]}'
    return f'The {kind} "{name}" is invalid: \n' + "\n".join(f"* {c}" for c in causes)


def test_job_update_validation_messages(module_kubectl: Kubectl) -> None:
    k = module_kubectl
    ns = k.namespace("job-updates")
    manifest = _indexed_job(
        "u", "  completions: 2\n  parallelism: 2\n  backoffLimitPerIndex: 1\n  suspend: true"
    )
    k.apply(manifest, "-n", ns)
    # Elastic Indexed jobs: completions change together with parallelism.
    k("patch", "job/u", "-n", ns, "--type=merge", "-p", '{"spec":{"completions":3,"parallelism":3}}')
    p = k.run("patch", "job/u", "-n", ns, "--type=merge", "-p", '{"spec":{"completions":4}}', check=False)
    assert p.stderr.strip() == (
        'The Job "u" is invalid: spec.completions: Invalid value: 4: can only be modified in tandem with '
        "spec.parallelism"
    )
    p = k.run(
        "patch", "job/u", "-n", ns, "--type=merge", "-p", '{"spec":{"backoffLimitPerIndex":2}}', check=False
    )
    assert (
        p.stderr.strip()
        == 'The Job "u" is invalid: spec.backoffLimitPerIndex: Invalid value: 2: field is immutable'
    )
    # A suspended job that never started may change its scheduling directives, nothing else.
    patch = '{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}'
    k("patch", "job/u", "-n", ns, "--type=merge", "-p", patch)
    p = k.run(
        "patch",
        "job/u",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx"}]',
        check=False,
    )
    assert p.returncode != 0 and "spec.template: Invalid value: " in p.stderr
    assert p.stderr.strip().endswith(": field is immutable")


def test_cronjob_validation_messages(module_kubectl: Kubectl) -> None:
    k = module_kubectl
    head = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: %s}\nspec:\n"
    tmpl = "  jobTemplate:\n    spec:\n" + "\n".join("    " + line for line in POD.splitlines()) + "\n"
    err = _rejected(
        k, head % "c" + '  schedule: "0 * * * *"\n  timeZone: Mars/Olympus\n' + tmpl, "-n", "default"
    )
    tz = "Mars/Olympus"
    assert err == _kubectl_invalid(
        "CronJob", "c", [f'spec.timeZone: Invalid value: "{tz}": unknown time zone {tz}']
    )
    err = _rejected(k, head % "c" + '  schedule: "0 * * * *"\n  timeZone: Local\n' + tmpl, "-n", "default")
    explicit = "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    assert err == _kubectl_invalid("CronJob", "c", [f'spec.timeZone: Invalid value: "Local": {explicit}'])
    err = _rejected(k, head % "c" + '  schedule: "61 * * * *"\n' + tmpl, "-n", "default")
    assert err == (
        'The CronJob "c" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above '
        "maximum (59): 61"
    )
    name = "c" * 53
    err = _rejected(k, head % name + '  schedule: "0 * * * *"\n' + tmpl, "-n", "default")
    too_long = f'metadata.name: Invalid value: "{name}": must be no more than 52 characters'
    assert err == _kubectl_invalid("CronJob", name, [too_long])
    k.apply(head % "ok" + '  schedule: "0 * * * *"\n  timeZone: Europe/Berlin\n' + tmpl, "-n", "default")
