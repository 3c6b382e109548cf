"""The WebSocket remote-command protocol (frames, statuses, options), exec/attach authorization,
the simulated kubelet's exec environment and error texts, and the relay's host→virtual rewrite."""

from __future__ import annotations

import orjson
import pytest
from multidict import MultiDict

from vcluster.apiserver import podexec
from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.rbac_authorizer import AlwaysAllowAuthorizer
from vcluster.apiserver.rbac_policy import bootstrap_authorizer
from vcluster.apiserver.request import RequestInfo
from vcluster.hostsim.kubeletserver import exec_env, exec_failure
from vcluster.syncer.engine.syncer import virtual_refusal


# ---------------------------------------------------------------------------------------------- frames
@pytest.mark.parametrize("protocol", [podexec.V5, podexec.V4, podexec.V1])
def test_binary_frames_are_the_channel_byte_then_the_data(protocol: str) -> None:
    assert podexec.encode_frame(podexec.STDOUT, b"out\n", protocol) == b"\x01out\n"
    assert podexec.encode_frame(podexec.STDIN, b"", protocol) == b"\x00"
    assert podexec.decode_frame(b"\x02err", protocol) == (podexec.STDERR, b"err")
    assert podexec.decode_frame(b"\x03", protocol) == (podexec.ERROR, b"")
    assert podexec.decode_frame(bytearray(b"\x00in"), protocol) == (podexec.STDIN, b"in")


@pytest.mark.parametrize("protocol", [podexec.V4_BASE64, podexec.V1_BASE64])
def test_base64_frames_are_a_digit_then_base64_text(protocol: str) -> None:
    frame = podexec.encode_frame(podexec.STDOUT, b"hello", protocol)
    assert frame == "1aGVsbG8="
    assert podexec.decode_frame(frame, protocol) == (podexec.STDOUT, b"hello")
    assert podexec.decode_frame(b"0aGk=", protocol) == (podexec.STDIN, b"hi")  # bytes of a text frame
    with pytest.raises(podexec.FrameError):
        podexec.encode_frame(podexec.CLOSE_SIGNAL, b"\x00", protocol)
    with pytest.raises(podexec.FrameError, match="base64"):
        podexec.decode_frame("1@@@", protocol)
    with pytest.raises(podexec.FrameError, match="invalid channel"):
        podexec.decode_frame("xaGk=", protocol)


def test_bad_frames_and_the_v5_close_signal() -> None:
    with pytest.raises(podexec.FrameError, match="empty"):
        podexec.decode_frame(b"")
    with pytest.raises(podexec.FrameError):
        podexec.encode_frame(256, b"")
    assert podexec.close_frame(podexec.STDIN) == b"\xff\x00"
    assert podexec.decode_frame(podexec.close_frame(podexec.STDIN)) == (podexec.CLOSE_SIGNAL, b"\x00")
    # a text message on a binary protocol is read as base64 (what a base64 client would send)
    assert podexec.decode_frame("2ZXJy", podexec.V5) == (podexec.STDERR, b"err")


def test_resize_messages() -> None:
    assert podexec.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    assert podexec.parse_resize(b'{"Width":0,"Height":40}') is None
    assert podexec.parse_resize(b"not json") is None
    assert podexec.parse_resize(b"[1,2]") is None


# ---------------------------------------------------------------------------------------------- statuses
def test_status_json_is_what_the_kubelet_marshals() -> None:
    assert orjson.dumps(podexec.success_status()) == b'{"metadata":{},"status":"Success"}'
    st = podexec.exit_status(3, ["sh", "-c", "exit 3"])
    assert orjson.loads(orjson.dumps(st)) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], "
        "exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    err = podexec.internal_error_status("boom")
    assert err["message"] == "Internal error occurred: boom" and err["code"] == 500
    assert err["details"] == {"causes": [{"message": "boom"}]} and err["reason"] == "InternalError"


def test_the_error_channel_per_protocol_version() -> None:
    ok, failed = podexec.success_status(), podexec.exit_status(2, ["false"])
    for proto in (podexec.V5, podexec.V4, podexec.V4_BASE64):
        assert podexec.json_status(proto)
        assert orjson.loads(podexec.status_payload(ok, proto) or b"") == ok
        assert orjson.loads(podexec.status_payload(failed, proto) or b"") == failed
    for proto in (podexec.V3, podexec.V2, podexec.V1, podexec.V1_BASE64, ""):
        assert not podexec.json_status(proto)
        assert podexec.status_payload(ok, proto) is None  # v1WriteStatusFunc: nothing on success
        assert podexec.status_payload(failed, proto) == failed["message"].encode()


# ---------------------------------------------------------------------------------------------- options
def test_stream_options_parse_like_the_parameter_codec() -> None:
    q = MultiDict(
        [("command", "sh"), ("command", "-c"), ("command", "echo a b"), ("stdout", "true"),
         ("stderr", "1"), ("stdin", "FALSE"), ("tty", "0"), ("container", "main")]
    )  # fmt: skip
    opts = podexec.stream_options(q)
    assert opts.command == ["sh", "-c", "echo a b"] and opts.container == "main"
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (False, True, True, False)
    assert opts.kubelet_query("exec") == [
        ("command", "sh"), ("command", "-c"), ("command", "echo a b"), ("error", "1"), ("output", "1")
    ]  # fmt: skip
    # anything but "0" / "false" is true (even "yes"); absent is false
    opts = podexec.stream_options(MultiDict([("stdin", "yes"), ("tty", "True"), ("command", "x")]))
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (True, False, False, True)
    assert opts.kubelet_query("attach") == [("input", "1"), ("tty", "1")]  # no command for attach


def _info(sub: str = "exec") -> RequestInfo:
    return RequestInfo("", "v1", "team-a", "pods", "web-1", sub, "get")


def test_exec_is_authorized_as_create_on_the_subresource() -> None:
    sa = UserInfo(
        "system:serviceaccount:team-a:bot", groups=("system:serviceaccounts", "system:authenticated")
    )
    admin = UserInfo("admin", groups=("system:masters", "system:authenticated"))
    podexec.authorize(AlwaysAllowAuthorizer(), sa, _info())  # --authorization-mode AlwaysAllow
    strict = bootstrap_authorizer()
    podexec.authorize(strict, admin, _info())
    with pytest.raises(StatusError) as ei:
        podexec.authorize(strict, sa, _info("attach"))
    st = ei.value.status()
    assert ei.value.code == 403 and st["reason"] == "Forbidden"
    assert st["message"] == (
        'pods "web-1" is forbidden: User "system:serviceaccount:team-a:bot" cannot create resource '
        '"pods/attach" in API group "" in the namespace "team-a"'
    )
    assert st["details"] == {"name": "web-1", "kind": "pods"}


# ---------------------------------------------------------------------------------------------- kubelet
def test_exec_environment() -> None:
    pod = {"metadata": {"name": "web-1"}, "spec": {}}
    spec = {
        "env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "DERIVED", "value": "$(GREETING)-$(MISSING)-$$(GREETING)"},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "EMPTY"},
        ]
    }
    env = exec_env(pod, spec, "/tmp/w", tty=False)
    assert env["HOSTNAME"] == "web-1" and env["HOME"] == "/tmp/w" and env["PATH"]
    assert env["GREETING"] == "hello" and env["EMPTY"] == ""
    assert env["DERIVED"] == "hello-$(MISSING)-$(GREETING)"
    assert "FROM_SECRET" not in env and "TERM" not in env
    pod["spec"] = {"hostname": "web"}  # the syncer sets the virtual name as the host pod's hostname
    assert exec_env(pod, {}, "/tmp/w", tty=True) | {"PATH": ""} == {
        "PATH": "", "HOSTNAME": "web", "HOME": "/tmp/w", "TERM": "xterm"
    }  # fmt: skip


def test_exec_failures_read_like_containerd() -> None:
    msg = exec_failure(["no-such-command", "x"], FileNotFoundError(2, "No such file or directory"))
    assert msg.startswith(
        "error executing command in container: failed to exec in container: failed to start exec "
    )
    assert msg.endswith(
        ': OCI runtime exec failed: exec failed: unable to start container process: exec: "no-such-command": '
        "executable file not found in $PATH: unknown"
    )
    assert 'exec: "/bin/nope": stat /bin/nope: no such file or directory: unknown' in exec_failure(
        ["/bin/nope"], FileNotFoundError(2, "No such file or directory")
    )
    assert 'exec: "/etc": permission denied: unknown' in exec_failure(["/etc"], PermissionError(13, "x"))


# ---------------------------------------------------------------------------------------------- relay
def test_host_refusals_come_back_with_the_virtual_names() -> None:
    hname = "web-1-x-team-a-x-vc"
    body = orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'pods "{hname}" not found',
            "reason": "NotFound",
            "details": {"name": hname, "kind": "pods", "causes": [{"message": f"host-ns/{hname} gone"}]},
            "code": 404,
        }
    )
    e = podexec.UpstreamRefused(404, "application/json", body)
    err = virtual_refusal(e, "host-ns", hname, "team-a", "web-1")
    st = err.status()
    assert err.code == 404 and st["reason"] == "NotFound"
    assert st["message"] == 'pods "web-1" not found'
    assert st["details"] == {"name": "web-1", "kind": "pods", "causes": [{"message": "team-a/web-1 gone"}]}
    assert "-x-" not in err.body().decode()
    # a plain-text answer (not a Status) keeps its code
    plain = virtual_refusal(
        podexec.UpstreamRefused(400, "text/plain", f"bad {hname}".encode()),
        "host-ns",
        hname,
        "team-a",
        "web-1",
    )
    assert (plain.code, plain.reason, plain.message) == (400, "BadRequest", "bad web-1")
    assert not e.upgrade_required
    assert podexec.UpstreamRefused(400, "text/plain", b"Upgrade request required").upgrade_required
