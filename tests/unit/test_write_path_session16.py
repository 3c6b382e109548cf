"""Session 16's cheaper write path gives the answers of the walks it short-cuts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vcluster.apiserver import schema

FIXTURES = json.loads(
    (Path(__file__).resolve().parents[2] / "bench" / "fixtures" / "apiserver_ops.json").read_text()
)
# values of every JSON type, and strings that some formats (quantity, time, base64) refuse
_PROBES: list[Any] = [
    "x",
    "",
    "1Gi",
    "2024-01-01T00:00:00Z",
    "!!",
    7,
    -1,
    2**40,
    1.5,
    2.0,
    True,
    None,
    [],
    [1],
    {},
    {"a": 1},
]


def _pod_with_status() -> dict[str, Any]:
    pod = copy.deepcopy(FIXTURES["synced_pod"])
    pod["status"] = copy.deepcopy(FIXTURES["synced_pod_status"])
    return pod


def _paths(v: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(v, dict):
        for k, x in v.items():
            yield (*prefix, k)
            yield from _paths(x, (*prefix, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield (*prefix, i)
            yield from _paths(x, (*prefix, i))


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(obj)
    target = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return out


def _slow(obj: dict[str, Any], defname: str, old: dict[str, Any] | None) -> str | None:
    try:
        schema._check_struct(obj, defname, "", old, 2)
    except schema.DecodeError as e:
        return str(e)
    return None


@pytest.mark.parametrize(
    ("group", "version", "kind", "base"),
    [
        ("", "v1", "Pod", _pod_with_status()),
        ("", "v1", "Event", FIXTURES["host_event"]),
        ("", "v1", "Secret", {"metadata": {"name": "s"}, "data": {"k": "aGk="}, "type": "Opaque"}),
        (
            "apps",
            "v1",
            "Deployment",
            {
                "metadata": {},
                "spec": {
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "c", "resources": {}}]}},
                },
            },
        ),
    ],
)
def test_fast_type_check_agrees_with_the_walk(
    group: str, version: str, kind: str, base: dict[str, Any]
) -> None:
    """Every field of real objects set to values of each JSON type and format: the compiled check
    passes exactly the bodies the walk passes (alone, and against the unchanged object as `old`),
    and type_error reports the walk's text."""
    defname = schema.definition_for(group, version, kind)
    assert defname is not None
    failures = 0
    for path in [*_paths(base), ("bogus",), ("metadata", "bogus")]:
        for probe in _PROBES:
            obj = _set(base, path, probe)
            for old in (None, base):
                expected = _slow(obj, defname, old)
                assert schema._fast_struct(obj, defname, old, 2) is (expected is None), (
                    path,
                    probe,
                    old is base,
                )
                assert schema.type_error(obj, group, version, kind, old) == expected
                failures += expected is not None
    assert failures > 100  # the probes do reach wrongly typed values


def _field_sets() -> list[frozenset[Any]]:
    from vcluster.apiserver import fieldmanager as fm

    objs: list[tuple[str, str, str, dict[str, Any]]] = [
        ("", "v1", "Pod", _pod_with_status()),
        ("", "v1", "Pod", FIXTURES["plain_pod"]),
        ("", "v1", "Event", FIXTURES["host_event"]),
        (
            "",
            "v1",
            "Service",
            {
                "spec": {
                    "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP", "name": "s"}]
                }
            },
        ),
        ("", "v1", "ConfigMap", {"metadata": {"finalizers": ["a", "b", "c"]}, "data": {"b": "1", "a": "2"}}),
    ]
    out: list[frozenset[Any]] = [frozenset()]
    for g, v, k, obj in objs:
        added, _, _ = fm._compare({}, obj, fm.type_for(g, v, k), True)
        out.append(frozenset(added))
        ordered = sorted(added)
        out.append(frozenset(ordered[::2]))  # members without their parents, parents without children
    f = ("f", "items")
    # a level mixing index elements with keys and values: tuple order differs from upstream's there
    out.append(frozenset({(f, ("i", 0)), (f, ("i", 10)), (f, ("k", (("a", (0, 1)),))), (f, ("v", (1, "x")))}))
    out.append(frozenset({(f, ("v", (0, 80)), ("f", "a")), (f, ("v", (1, "x"))), (f, ("v", (0, 7)))}))
    return out


def _reference_emit(level: dict[Any, list[Any]]) -> dict[str, Any]:
    """FieldsV1 as upstream orders it: each level's elements sorted by kind (field, key, value,
    index), then by value; `.` first for a member with children."""
    from vcluster.apiserver import fieldmanager as fm

    out: dict[str, Any] = {}
    for pe in sorted(level, key=fm._pe_key):
        member, children = level[pe]
        out[fm._pe_serialize(pe)] = (
            (({".": {}} if member else {}) | _reference_emit(children)) if children else {}
        )
    return out


def test_fields_v1_documents_keep_upstream_key_order() -> None:
    """Encoding sorts each level in tuple order, falling back to upstream's order for mixed index
    elements; the bytes (and their decoding) are the reference encoding's."""
    import orjson

    from vcluster.apiserver import fieldmanager as fm

    sets = _field_sets()
    for fs in sets:
        expected = orjson.dumps(_reference_emit(fm._trie(fs)))
        assert orjson.dumps(fm.to_fields_v1(fs)) == expected, sorted(fs, key=str)
        assert fm.from_fields_v1(orjson.loads(expected)) == set(fs)
    mixed = orjson.dumps(fm.to_fields_v1(sets[-2])).decode()
    assert mixed.index('"k:') < mixed.index('"v:') < mixed.index('"i:0"') < mixed.index('"i:10"')


def test_strict_problems_of_a_body_that_is_its_own_encoding() -> None:
    """A body byte-equal to orjson's encoding of the decoded object skips the duplicate-keeping
    decode and reports the same problems; a body that repeats a key is still caught."""
    import orjson

    from vcluster.apiserver import fieldvalidation as fv

    pod = _pod_with_status()
    pod["spec"]["bogus"] = 1
    pod["spec"]["containers"][0]["alsoBogus"] = {"x": 1}
    body = orjson.dumps(pod)
    fast = fv.strict_problems(body, "application/json", "", "v1", "Pod", orjson.loads(body))
    slow = fv.strict_problems(body, "application/json", "", "v1", "Pod", None)
    assert fast == slow == ['unknown field "spec.containers[0].alsoBogus"', 'unknown field "spec.bogus"']
    dup = body[:-1] + b',"kind":"Pod"}'  # "kind" twice: the decoding is the same object
    assert orjson.loads(dup) == orjson.loads(body)
    assert fv.strict_problems(dup, "application/json", "", "v1", "Pod", orjson.loads(dup))[-1] == (
        'duplicate field "kind"'
    )
    patch = {"metadata": {"labels": {"a": "b"}}}
    assert fv.duplicate_field_problems(orjson.dumps(patch), patch) == []
    dup_patch = b'{"metadata":{"labels":{"a":"b","a":"b"}}}'
    assert fv.duplicate_field_problems(dup_patch, orjson.loads(dup_patch)) == [
        'duplicate field "metadata.labels.a"'
    ]


def test_patches_applied_in_place_give_the_copying_result() -> None:
    """`in_place` patches the caller's own copy: the same result, and the copying form still leaves
    its input alone."""
    from vcluster.apiserver.jsonpatch import apply_json_patch
    from vcluster.apiserver.smp import strategic_merge_patch

    pod = _pod_with_status()
    smp = {
        "metadata": {"labels": {"a": "b", "bench": None}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": FIXTURES["synced_pod_status"] | {"phase": "Succeeded", "$setElementOrder/conditions": []},
    }
    ops = [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "x"},
        {"op": "remove", "path": "/status"},
    ]
    for patch_fn, patch in [
        (lambda o, p, **kw: strategic_merge_patch(o, p, "", "v1", "Pod", **kw), smp),
        (lambda o, p, **kw: apply_json_patch(o, p, **kw), ops),
    ]:
        original = copy.deepcopy(pod)
        copied = patch_fn(original, patch)
        assert original == pod
        own = copy.deepcopy(pod)
        assert patch_fn(own, patch, in_place=True) == copied != pod
