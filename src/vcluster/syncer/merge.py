"""Three-way merge primitives of §6.2 and declarative per-resource field directions (§6.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from vcluster.apiserver.patch import json_copy, merge_patch
from vcluster.syncer import constants as c
from vcluster.syncer.names import RESERVED_LABEL_KEYS, label_key_from_host, label_key_to_host

if TYPE_CHECKING:
    from vcluster.syncer.context import SyncContext

__all__ = [
    "Field",
    "FieldDirections",
    "FieldEnv",
    "Merged",
    "apply_directions",
    "apply_merge_patch",
    "copy_bidirectional",
    "create_merge_patch",
    "diff_map",
    "get_path",
    "initial_base",
    "json_copy",
    "merge_annotations",
    "merge_bidirectional",
    "merge_both_ways",
    "merge_labels",
    "semantic_equal",
    "set_path",
    "split_status",
    "visible_annotations",
]

KeyTransform = Callable[[str], "str | None"]


class Merged:
    """New virtual and host values plus whether each differs (semantically) from its input; the
    flags are computed when asked (a full-object comparison most callers do not need). Unpacks
    and indexes like the tuple (virtual, host, virtual_changed, host_changed)."""

    __slots__ = ("_h_in", "_v_in", "host", "virtual")

    def __init__(self, virtual: Any, host: Any, virtual_in: Any, host_in: Any) -> None:
        self.virtual, self.host = virtual, host
        self._v_in, self._h_in = virtual_in, host_in

    @property
    def virtual_changed(self) -> bool:
        return not semantic_equal(self.virtual, self._v_in)

    @property
    def host_changed(self) -> bool:
        return not semantic_equal(self.host, self._h_in)

    def __getitem__(self, i: int) -> Any:
        if i == 0:
            return self.virtual
        if i == 1:
            return self.host
        return tuple(self)[i]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.virtual, self.host, self.virtual_changed, self.host_changed))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Merged | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable values inside

    def __repr__(self) -> str:
        return f"Merged{tuple(self)!r}"


def _merged(new_v: Any, new_h: Any, v: Any, h: Any) -> Merged:
    return Merged(new_v, new_h, v, h)


# ---------------------------------------------------------------- equality and merge patches


def _norm(v: Any) -> Any:
    """Drop empty containers and nulls (Go's semantic DeepEqual treats nil and empty alike)."""
    if isinstance(v, dict):
        out = {k: n for k, x in v.items() if (n := _norm(x)) is not None}
        return out or None
    if isinstance(v, list):
        return [_norm(x) for x in v] or None
    return v


def _canon(v: Any) -> bytes:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)


def semantic_equal(a: Any, b: Any) -> bool:
    """Kubernetes-style semantic equality of two JSON values (nil == empty)."""
    # Fast path: most compared values are identical. Python's == also calls True equal to 1, so a
    # == match is confirmed by the JSON text (no key sorting needed when the orders agree).
    if a is b or (a == b and orjson.dumps(a) == orjson.dumps(b)):
        return True
    try:
        return _sem_eq(a, b)
    except _Irregular:
        return _canon(_norm(a)) == _canon(_norm(b))


class _Irregular(Exception):
    """A value `_sem_eq` does not compare itself (not plain JSON, or a float)."""


_SCALARS = (str, int, bool)


def _nil(v: Any) -> bool:
    """Whether `_norm` makes `v` None: null, or an empty map or list, or a map of such."""
    t = type(v)
    if v is None:
        return True
    if t is dict:
        return all(_nil(x) for x in v.values())
    if t is list:
        return not v
    if t in _SCALARS:
        return False
    raise _Irregular


def _sem_eq(a: Any, b: Any) -> bool:
    """`_canon(_norm(a)) == _canon(_norm(b))` without building either: one walk over both, which
    stops at the first difference."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict:
        for k, x in a.items():
            if not _sem_eq(x, b.get(k)):
                return False
        return all(k in a or _nil(y) for k, y in b.items())
    if ta is list and tb is list:
        if len(a) != len(b):
            return False  # an empty list is nil, a non-empty one never is
        return all(_sem_eq(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None or ta is dict or tb is dict or ta is list or tb is list:
        return _nil(a) and _nil(b)
    if ta in _SCALARS and tb in _SCALARS:
        return ta is tb and a == b  # JSON text tells True from 1
    raise _Irregular


def _same(a: Any, b: Any) -> bool:
    """Equal JSON texts with sorted keys; `==` first, confirmed by the text (True == 1 in Python)."""
    if a is b:
        return True
    if a == b and orjson.dumps(a) == orjson.dumps(b):
        return True
    return _canon(a) == _canon(b)


def create_merge_patch(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict | None:
    """RFC 7386 patch turning `before` into `after`; None when they are equal."""
    patch = _diff(before or {}, after or {})
    return patch or None


def _diff(b: Mapping[str, Any], a: Mapping[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for k, bv in b.items():
        if bv is not None and a.get(k) is None:
            patch[k] = None
    for k, av in a.items():
        if av is None:
            continue
        bv = b.get(k)
        if av is bv:
            continue  # shared (copy on write): nothing changed under it
        if isinstance(av, dict) and isinstance(bv, dict):
            sub = _diff(bv, av)
            if sub:
                patch[k] = sub
        elif bv is None or not _same(av, bv):
            patch[k] = json_copy(av)
    return patch


def apply_merge_patch(obj: Mapping[str, Any], patch: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new object with an RFC 7386 patch applied (inputs untouched)."""
    base = json_copy(dict(obj))
    return merge_patch(base, json_copy(dict(patch))) if patch else base


def split_status(patch: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Split a patch into (everything but status, status-only patch) for the status subresource."""
    if not patch:
        return None, None
    rest = {k: v for k, v in patch.items() if k != "status"}
    status = {"status": patch["status"]} if "status" in patch else None
    return rest or None, status


# ---------------------------------------------------------------- dotted paths


def get_path(obj: Mapping[str, Any] | None, path: str) -> Any:
    """Value at a dotted path (None when any step is missing)."""
    parts = _PARTS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PARTS) < 1024:
            _PARTS[path] = parts
    cur: Any = obj
    for part in parts:
        if type(cur) is not dict and not isinstance(cur, Mapping):  # a dict: no ABC check
            return None
        cur = cur.get(part)
    return cur


_PARTS: dict[str, tuple[str, ...]] = {}  # a dotted path's steps (the syncers' declared paths, bounded)


def set_path(obj: dict[str, Any], path: str, value: Any, *, copy_on_write: bool = False) -> None:
    """Set (or with None/empty, remove) the value at a dotted path, creating parents.
    `copy_on_write`: replace each map along the path by a copy instead of changing it, for an
    `obj` whose subtrees are shared with objects that must stay untouched."""
    parts = path.split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            if value is None:
                return
            nxt = cur[part] = {}
        elif copy_on_write:
            nxt = cur[part] = dict(nxt)
        cur = nxt
    if value is None:
        cur.pop(parts[-1], None)
    else:
        cur[parts[-1]] = value


# ---------------------------------------------------------------- map merges (labels, annotations, data)


def diff_map(before: Mapping[str, str] | None, after: Mapping[str, str] | None) -> dict[str, str | None]:
    """Changed and added keys with their new values, removed keys with None."""
    before, after = before or {}, after or {}
    out: dict[str, str | None] = {k: None for k in before if k not in after}
    out.update({k: v for k, v in after.items() if k not in before or before[k] != v})
    return out


def merge_both_ways(
    v_old: Mapping[str, Any] | None,
    v: Mapping[str, Any] | None,
    h_old: Mapping[str, Any] | None,
    h: Mapping[str, Any] | None,
    to_host: KeyTransform | None = None,
    to_virtual: KeyTransform | None = None,
    *,
    v_diff: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Key-by-key three-way merge of two maps: the virtual side's changes since its base are applied
    to the host copy and the host side's to the virtual copy, a key changed on both sides taking
    the virtual value. (vCluster copies only the virtual side's changes when both sides changed and
    then takes both objects as the new base, so a host change to another key is never copied and
    the two sides stay apart; here it is copied.) `v_diff`: the virtual changes already computed
    in host form (a syncer that translates values too)."""
    if v_diff is None:
        v_diff = {}
        for key, value in diff_map(v_old, v).items():
            k = to_host(key) if to_host else key
            if k:
                v_diff[k] = value
    new_h = dict(h or {})
    _apply_changes(new_h, v_diff.items())
    new_v = dict(v or {})
    host_changes = []
    for key, value in diff_map(h_old, h).items():
        if key in v_diff:
            continue  # changed on both sides: the virtual value stands
        k = to_virtual(key) if to_virtual else key
        if k:
            host_changes.append((k, value))
    _apply_changes(new_v, host_changes)
    return new_v, new_h


def _apply_changes(target: dict[str, Any], changes: Iterable[tuple[str, Any]]) -> None:
    for key, value in changes:
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def copy_bidirectional(
    v_old: Any,
    v: Any,
    h_old: Any,
    h: Any,
    to_host: Callable[[Any], Any] | None = None,
    to_virtual: Callable[[Any], Any] | None = None,
) -> Merged:
    """CopyBidirectional: a virtual change is copied to the host, else a host change to the virtual side."""
    if not semantic_equal(v_old, v):
        return _merged(v, (to_host(v) if to_host else json_copy(v)), v, h)
    if not semantic_equal(h_old, h):
        return _merged((to_virtual(h) if to_virtual else json_copy(h)), h, v, h)
    return _merged(v, h, v, h)


def merge_bidirectional(
    v_old: Mapping[str, Any] | None,
    v: Mapping[str, Any] | None,
    h_old: Mapping[str, Any] | None,
    h: Mapping[str, Any] | None,
) -> Merged:
    """MergeBidirectional (ConfigMap/Secret data): each side's key changes applied to the other side,
    the virtual value winning a key changed on both (see `merge_both_ways`)."""
    if semantic_equal(v_old, v) and semantic_equal(h_old, h):
        return _merged(_or_none(v), _or_none(h), v, h)
    new_v, new_h = merge_both_ways(v_old, v, h_old, h)
    return _merged(_or_none(new_v), _or_none(new_h), v, h)


def _or_none(m: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(m) if m else None


def merge_labels(
    v_old: Mapping[str, str] | None,
    v: Mapping[str, str] | None,
    h_old: Mapping[str, str] | None,
    h: Mapping[str, str] | None,
    vcluster: str,
    excluded: Iterable[str] = (),
) -> Merged:
    """Three-way label merge: reserved keys hashed toward the host, marker/ns-label keys never come back.
    A virtual key spelled like a reserved key's host form stays virtual, as on create
    (`metadata.host_labels`): on the host it would stand for, and come back as, the reserved key."""
    skip = set(excluded)
    hashed = {label_key_to_host(k, vcluster) for k in RESERVED_LABEL_KEYS}

    def to_host(k: str) -> str | None:
        return None if k in skip or k in hashed else label_key_to_host(k, vcluster)

    def to_virtual(k: str) -> str | None:
        return None if k in skip else label_key_from_host(k, vcluster)

    if semantic_equal(v_old, v) and semantic_equal(h_old, h):
        return _merged(dict(v or {}), dict(h or {}), v, h)
    new_v, new_h = merge_both_ways(v_old, v, h_old, h, to_host, to_virtual)
    return _merged(new_v, new_h, v, h)


def annotation_excluded(key: str, excluded: Iterable[str] = (), prefixes: Iterable[str] = ()) -> bool:
    """True for the bookkeeping keys and per-syncer exclusions that never cross sides."""
    return (
        key in c.OBJECT_ANNOTATIONS
        or key in c.BOOKKEEPING_ANNOTATIONS
        or key in excluded
        or any(key.startswith(p) for p in prefixes)
    )


def visible_annotations(
    m: Mapping[str, str] | None, excluded: Iterable[str] = (), prefixes: Iterable[str] = ()
) -> dict[str, str]:
    """The annotations that cross sides (what a three-way merge compares, and what a base keeps)."""
    ex, pre = tuple(excluded), tuple(prefixes)
    return {k: v for k, v in (m or {}).items() if not annotation_excluded(k, ex, pre)}


def merge_annotations(
    v_old: Mapping[str, str] | None,
    v: Mapping[str, str] | None,
    h_old: Mapping[str, str] | None,
    h: Mapping[str, str] | None,
    excluded: Iterable[str] = (),
    excluded_prefixes: Iterable[str] = (),
    to_host: KeyTransform | None = None,
    to_virtual: KeyTransform | None = None,
) -> Merged:
    """Three-way annotation merge; object-*/managed-* and per-syncer keys are excluded both ways."""
    ex, pre = tuple(excluded), tuple(excluded_prefixes)

    def host_key(k: str) -> str | None:
        if annotation_excluded(k, ex, pre):
            return None
        return to_host(k) if to_host else k

    def virtual_key(k: str) -> str | None:
        if annotation_excluded(k, ex, pre):
            return None
        return to_virtual(k) if to_virtual else k

    # excluded keys are compared out, so a base may leave them out (BaseStore does)
    v_changed = not semantic_equal(visible_annotations(v_old, ex, pre), visible_annotations(v, ex, pre))
    h_changed = not semantic_equal(visible_annotations(h_old, ex, pre), visible_annotations(h, ex, pre))
    if not (v_changed or h_changed):
        return _merged(dict(v or {}), dict(h or {}), v, h)
    new_v, new_h = merge_both_ways(v_old, v, h_old, h, host_key, virtual_key)
    if v_changed:
        # pushed from the virtual object: the host's `managed-annotations` lists what it now
        # carries from there (§2.1), as on create
        managed = "\n".join(sorted(visible_annotations(new_v, ex, pre)))
        if managed:
            new_h[c.MANAGED_ANNOTATIONS_ANNOTATION] = managed
        else:
            new_h.pop(c.MANAGED_ANNOTATIONS_ANNOTATION, None)
    return _merged(new_v, new_h, v, h)


def initial_base(
    virtual: Mapping[str, Any], host: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """vCluster's base when none was kept: virtual without labels (re-pushes them), host as is (§6.1)."""
    v_old = json_copy(dict(virtual))
    v_old.setdefault("metadata", {}).pop("labels", None)
    return v_old, json_copy(dict(host))


# ---------------------------------------------------------------- declarative field directions


@dataclass(frozen=True)
class FieldEnv:
    """What a field transform may look at: the context and the current pair."""

    ctx: SyncContext
    virtual: Mapping[str, Any]
    host: Mapping[str, Any]


Transform = Callable[[Any, FieldEnv], Any]


ThreeWay = Callable[[Any, Any, Any, Any, FieldEnv], "tuple[Any, Any]"]


@dataclass(frozen=True)
class Field:
    """One synced field: a dotted path, optional value transforms per direction and a strategy.

    `strategy` is "copy" (CopyBidirectional) or "merge" (MergeBidirectional of maps); `merge`, when
    given, replaces both with a custom three-way function (v_old, v, h_old, h, env) -> (v, h).
    """

    path: str
    to_host: Transform | None = None
    to_virtual: Transform | None = None
    strategy: str = "copy"
    merge: ThreeWay | None = None


_PLAIN_FIELDS: dict[str, Field] = {}  # a path given as a string: its Field, made once


def _field(f: str | Field) -> Field:
    if isinstance(f, Field):
        return f
    found = _PLAIN_FIELDS.get(f)
    if found is None:
        found = _PLAIN_FIELDS[f] = Field(f)
    return found


@dataclass(frozen=True)
class FieldDirections:
    """Which fields flow virtual→host, host→virtual, and both ways (three-way) for one resource."""

    to_host: tuple[str | Field, ...] = ()
    from_host: tuple[str | Field, ...] = ()
    both: tuple[str | Field, ...] = ("metadata.labels", "metadata.annotations")
    excluded_annotations: tuple[str, ...] = ()
    excluded_annotation_prefixes: tuple[str, ...] = ()
    excluded_labels: tuple[str, ...] = ()

    def paths(self) -> dict[str, tuple[str, ...]]:
        """The declared paths per direction (for logs and docs)."""
        return {
            "to_host": tuple(_field(f).path for f in self.to_host),
            "from_host": tuple(_field(f).path for f in self.from_host),
            "both": tuple(_field(f).path for f in self.both),
        }


def _shallow(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A new top-level map and metadata map over the same subtrees (see `set_path`'s
    `copy_on_write`)."""
    out = dict(obj)
    md = out.get("metadata")
    if isinstance(md, dict):
        out["metadata"] = dict(md)
    return out


def _apply(value: Any, fn: Transform | None, env: FieldEnv) -> Any:
    return json_copy(value) if fn is None else fn(json_copy(value), env)


def apply_directions(
    virtual: Mapping[str, Any],
    host: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    directions: FieldDirections,
    ctx: SyncContext,
) -> Merged:
    """New (virtual, host, changed flags) after every declared direction; inputs are never mutated."""
    if virtual_old is None or host_old is None:
        base_v, base_h = initial_base(virtual, host)
        virtual_old = base_v if virtual_old is None else virtual_old
        host_old = base_h if host_old is None else host_old
    # Copy on write: the new objects share every subtree with the inputs except the metadata map
    # (callers rewrite its labels and annotations) and the containers along each path set here.
    new_v, new_h = _shallow(virtual), _shallow(host)
    env = FieldEnv(ctx, virtual, host)
    for spec in directions.to_host:
        f = _field(spec)
        want = _apply(get_path(virtual, f.path), f.to_host, env)
        if not semantic_equal(want, get_path(host, f.path)):
            set_path(new_h, f.path, want, copy_on_write=True)
    for spec in directions.from_host:
        f = _field(spec)
        want = _apply(get_path(host, f.path), f.to_virtual, env)
        if not semantic_equal(want, get_path(virtual, f.path)):
            set_path(new_v, f.path, want, copy_on_write=True)
    for spec in directions.both:
        f = _field(spec)
        args = (
            get_path(virtual_old, f.path),
            get_path(virtual, f.path),
            get_path(host_old, f.path),
            get_path(host, f.path),
        )
        if f.merge is not None:
            res = f.merge(*args, env)
        elif f.path == "metadata.labels":
            res = merge_labels(*args, ctx.vcluster, directions.excluded_labels)
        elif f.path == "metadata.annotations":
            res = merge_annotations(
                *args, directions.excluded_annotations, directions.excluded_annotation_prefixes
            )
        elif f.strategy == "merge":
            res = merge_bidirectional(*args)
        else:
            res = copy_bidirectional(
                *args,
                to_host=(lambda x, f=f: _apply(x, f.to_host, env)),
                to_virtual=(lambda x, f=f: _apply(x, f.to_virtual, env)),
            )
        v, h = res[0], res[1]
        if not semantic_equal(v, args[1]):
            set_path(new_v, f.path, v or None, copy_on_write=True)
        if not semantic_equal(h, args[3]):
            set_path(new_h, f.path, h or None, copy_on_write=True)
    return _merged(new_v, new_h, virtual, host)
