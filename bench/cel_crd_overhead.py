"""Micro-benchmark: what CRD x-kubernetes-validations (CEL) rules add to a custom resource write.

    .venv/bin/python bench/cel_crd_overhead.py

Times the schema step of the write path (`CRDSchema.prune` + `default` + `validate`, and
`validate_update` for an update) for the same object under a schema without rules and under the
same schema with five rules (a root rule, a messageExpression rule, a transition rule, a rule on
every map-list item and one per map value), plus the one-off compilation of those rules.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from vcluster.apiserver.crd import CRDSchema

N = 5_000


def _schema(rules: bool) -> dict[str, Any]:
    def xv(*r: dict[str, Any]) -> dict[str, Any]:
        return {"x-kubernetes-validations": list(r)} if rules else {}

    return {
        "type": "object",
        **xv({"rule": "self.metadata.name.startsWith('w-')"}),
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                **xv(
                    {"rule": "self.minReplicas <= self.maxReplicas", "messageExpression": "'min > max'"},
                    {"rule": "self.mode == oldSelf.mode", "message": "mode is immutable"},
                ),
                "properties": {
                    "minReplicas": {"type": "integer"},
                    "maxReplicas": {"type": "integer"},
                    "mode": {"type": "string"},
                    "labels": {
                        "type": "object",
                        "additionalProperties": {"type": "string", **xv({"rule": "self.size() <= 63"})},
                    },
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            **xv({"rule": "self.port > 0 && self.port < 65536"}),
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                },
            },
        },
    }


OBJ = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w-1", "namespace": "default"},
    "spec": {
        "minReplicas": 1,
        "maxReplicas": 3,
        "mode": "a",
        "labels": {"a": "1", "b": "2", "c": "3"},
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
    },
}


def _per_call_us(fn: Callable[[], Any]) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1e6


def _write(schema: CRDSchema) -> Callable[[], Any]:
    def run() -> None:
        obj = copy.deepcopy(OBJ)
        schema.prune(obj)
        schema.default(obj)
        assert schema.validate(obj) == []

    return run


def _update(schema: CRDSchema) -> Callable[[], Any]:
    def run() -> None:
        obj = copy.deepcopy(OBJ)
        obj["spec"]["maxReplicas"] = 4
        assert schema.validate_update(obj, OBJ) == []

    return run


def main() -> None:
    plain, ruled = CRDSchema(_schema(False)), CRDSchema(_schema(True))
    start = time.perf_counter()
    CRDSchema(_schema(True)).validate(copy.deepcopy(OBJ))
    print(f"compile 5 rules (first write after a CRD change): {(time.perf_counter() - start) * 1e3:.2f} ms")
    for name, make in (("create", _write), ("update", _update)):
        base, cel = _per_call_us(make(plain)), _per_call_us(make(ruled))
        print(f"{name}: no rules {base:7.1f} us, 5 rules {cel:7.1f} us, CEL adds {cel - base:6.1f} us")


if __name__ == "__main__":
    main()
