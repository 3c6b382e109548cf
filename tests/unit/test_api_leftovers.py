"""Unit checks of the kube-apiserver details behind tests/integration/test_api_leftovers.py: the
impersonation filter's parsing, and field managers of another version of the kind (Events)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vcluster.apiserver import fieldmanager
from vcluster.apiserver.rbac_request import go_path_unescape, split_sa_username

NOW = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("username", "want"),
    [
        ("system:serviceaccount:ns1:bot", ("ns1", "bot")),
        ("system:serviceaccount:ns1:bot.v2", ("ns1", "bot.v2")),
        ("system:serviceaccount:Ns1:bot", None),  # namespace must be a DNS label
        ("system:serviceaccount:ns1:Bot", None),  # name must be a DNS subdomain
        ("system:serviceaccount:ns1:bot:x", None),
        ("system:serviceaccount:ns1", None),
        ("alice", None),
    ],
)
def test_split_sa_username_as_serviceaccount_split_username(username: str, want: Any) -> None:
    assert split_sa_username(username) == want


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("scopes", "scopes"),
        ("example.com%2fscope", "example.com/scope"),
        ("a%41", "aA"),
        ("bad%zz%2f", "bad%zz%2f"),
    ],
)
def test_extra_keys_unescape_as_url_path_unescape(key: str, want: str) -> None:
    assert go_path_unescape(key) == want


CORE = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "e", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "p"},
    "message": "hello",
    "reason": "Started",
}


def _events_apply(manager: str) -> dict[str, Any]:
    """The events.k8s.io/v1 apply of CORE's note by `manager`, stored in the core shape."""
    from vcluster.apiserver.conversion import core_to_events_v1, events_v1_to_core

    applied = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "note": "hello",
    }
    live = core_to_events_v1(copy.deepcopy(CORE))
    new = fieldmanager.apply(
        live, applied, manager, False, group="events.k8s.io", version="v1", kind="Event", now=NOW
    )
    return events_v1_to_core(new)


def _owners(obj: dict[str, Any]) -> dict[str, tuple[str, set[str]]]:
    return {m["manager"]: (m["apiVersion"], set(m["fieldsV1"])) for m in obj["metadata"]["managedFields"]}


def test_core_update_of_the_message_takes_note_from_an_events_k8s_io_manager() -> None:
    old = _events_apply("ev")
    assert _owners(old)["ev"] == ("events.k8s.io/v1", {"f:note"})
    new = copy.deepcopy(old)
    new["message"] = "changed"
    fieldmanager.update_managed_fields(
        old, new, "kubectl-edit", group="", version="v1", kind="Event", now=NOW
    )
    owners = _owners(new)
    assert owners["kubectl-edit"] == ("v1", {"f:message"})
    assert "ev" not in owners  # its only field changed hands, seen in its own version


def test_core_apply_of_another_message_conflicts_with_the_events_k8s_io_owner() -> None:
    old = _events_apply("ev")
    applied = {**CORE, "message": "changed"}
    with pytest.raises(Exception) as ei:
        fieldmanager.apply(old, applied, "core", False, group="", version="v1", kind="Event", now=NOW)
    assert ei.value.code == 409  # type: ignore[attr-defined]
    causes = [(c.message, c.field) for c in ei.value.causes]  # type: ignore[attr-defined]
    assert ('conflict with "ev"', ".note") in causes  # its field, in its own version's path
    same = {**CORE}
    new = fieldmanager.apply(old, same, "core", False, group="", version="v1", kind="Event", now=NOW)
    assert _owners(new)["ev"] == ("events.k8s.io/v1", {"f:note"})  # co-owned: the value did not change
