"""The merge primitives' fast paths give what the plain definitions give: `semantic_equal` against
normalise-then-compare-sorted-JSON, `create_merge_patch` against a diff without the identity and
`==` shortcuts, on random JSON values built to collide (nil against empty, True against 1, shared
subtrees, key order)."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from vcluster.syncer import merge
from vcluster.syncer.merge import create_merge_patch, get_path, semantic_equal


def _reference_equal(a: Any, b: Any) -> bool:
    """semantic_equal by its definition: nil and empty alike, then JSON with sorted keys."""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            out = {k: n for k, x in v.items() if (n := norm(x)) is not None}
            return out or None
        if isinstance(v, list):
            return [norm(x) for x in v] or None
        return v

    return orjson.dumps(norm(a), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        norm(b), option=orjson.OPT_SORT_KEYS
    )


def _reference_patch(b: Mapping[str, Any], a: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 diff walking every key (no shortcut for shared or `==` values)."""
    patch: dict[str, Any] = {}
    for k, bv in b.items():
        if bv is not None and a.get(k) is None:
            patch[k] = None
    for k, av in a.items():
        if av is None:
            continue
        bv = b.get(k)
        if isinstance(av, dict) and isinstance(bv, dict):
            sub = _reference_patch(bv, av)
            if sub:
                patch[k] = sub
        elif bv is None or orjson.dumps(av, option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            bv, option=orjson.OPT_SORT_KEYS
        ):
            patch[k] = av
    return patch


_LEAVES: list[Any] = [None, {}, [], [None], [{}], "", "a", "1", 0, 1, True, False, 1.0, 0.5, {"x": None}]


def _value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth <= 0 or r < 0.4:
        return copy.deepcopy(rng.choice(_LEAVES))
    if r < 0.75:
        return {rng.choice("abcd"): _value(rng, depth - 1) for _ in range(rng.randint(0, 4))}
    return [_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]


def _mutate(rng: random.Random, v: Any, depth: int = 0) -> Any:
    """A near copy of `v`: some subtrees shared, some replaced, keys reordered or nil-ed."""
    if isinstance(v, dict):
        out = {}
        keys = list(v)
        if rng.random() < 0.3:
            rng.shuffle(keys)
        for k in keys:
            r = rng.random()
            if r < 0.5:
                out[k] = v[k]  # shared
            elif r < 0.8:
                out[k] = _mutate(rng, v[k], depth + 1)
            elif r < 0.9:
                out[k] = rng.choice(_LEAVES)
        if rng.random() < 0.2:
            out[rng.choice("abcd")] = _value(rng, 2)
        return out
    if isinstance(v, list):
        return [_mutate(rng, x, depth + 1) if rng.random() < 0.5 else x for x in v]
    if rng.random() < 0.3:
        return rng.choice(_LEAVES)
    return v


@pytest.mark.parametrize("seed", range(4))
def test_semantic_equal_matches_its_definition(seed: int) -> None:
    rng = random.Random(seed)
    differ = same = 0
    for _ in range(3000):
        a = _value(rng, 4)
        b = _mutate(rng, a) if rng.random() < 0.8 else _value(rng, 4)
        want = _reference_equal(a, b)
        assert semantic_equal(a, b) is want, (a, b)
        assert semantic_equal(b, a) is want, (b, a)
        same += want
        differ += not want
    assert same > 300 and differ > 300  # both outcomes exercised


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ({"a": {}}, None, True),
        ({"a": {"b": []}}, {}, True),
        ([{}], [None], True),
        ([None], [], False),
        ({"a": True}, {"a": 1}, False),
        ({"a": 1}, {"a": 1.0}, False),
        ({"a": (1, 2)}, {"a": [1, 2]}, True),  # not plain JSON: the full comparison decides
        ({"a": 0.5, "b": 1}, {"b": 1, "a": 0.5}, True),
        ({"a": "x"}, {"a": "x", "b": {"c": None}}, True),
    ],
)
def test_semantic_equal_cases(a: Any, b: Any, want: bool) -> None:
    assert semantic_equal(a, b) is want
    assert _reference_equal(a, b) is want


@pytest.mark.parametrize("seed", range(4))
def test_create_merge_patch_matches_a_full_diff(seed: int) -> None:
    rng = random.Random(100 + seed)
    patches = 0
    for _ in range(3000):
        before = _value(rng, 4)
        before = before if isinstance(before, dict) else {"v": before}
        after = _mutate(rng, before)
        want = _reference_patch(before, after) or None
        got = create_merge_patch(before, after)
        assert got == want and orjson.dumps(got) == orjson.dumps(want), (before, after)
        patches += got is not None
        if got is not None:  # the patch is a copy: changing it leaves `after` alone
            snapshot = orjson.dumps(after)
            for k in got:
                got[k] = "changed"
            assert orjson.dumps(after) == snapshot
    assert patches > 500


def test_get_path_steps_cached_and_mappings() -> None:
    from types import MappingProxyType

    obj = {"a": {"b": MappingProxyType({"c": 1})}}
    assert get_path(obj, "a.b.c") == 1
    assert get_path(obj, "a.b.c.d") is None
    assert get_path(obj, "a.x.c") is None
    assert merge._PARTS["a.b.c"] == ("a", "b", "c")
