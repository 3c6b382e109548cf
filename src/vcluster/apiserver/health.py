"""/healthz, /livez and /readyz as kube-apiserver serves them (k8s.io/apiserver/pkg/server/healthz):
named checks, `?verbose` listing each, `?exclude=NAME`, one check at `/livez/NAME`, 404 for others."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from multidict import MultiMapping

# (name, endpoints it belongs to) in kube-apiserver's registration order; the post-start hooks are
# those of the work this server does at start (CRD serving, system namespaces, the kubernetes
# service and its IP repair, bootstrap roles and priority classes)
_CHECKS: tuple[tuple[str, str], ...] = (
    ("ping", "healthz livez readyz"),
    ("log", "healthz livez readyz"),
    ("etcd", "healthz livez readyz"),
    ("etcd-readiness", "readyz"),
    ("informer-sync", "readyz"),
    ("poststarthook/start-apiextensions-informers", "healthz livez readyz"),
    ("poststarthook/start-apiextensions-controllers", "healthz livez readyz"),
    ("poststarthook/crd-informer-synced", "healthz livez readyz"),
    ("poststarthook/start-system-namespaces-controller", "healthz livez readyz"),
    ("poststarthook/start-service-ip-repair-controllers", "healthz livez readyz"),
    ("poststarthook/rbac/bootstrap-roles", "healthz livez readyz"),
    ("poststarthook/scheduling/bootstrap-system-priority-classes", "healthz livez readyz"),
    ("poststarthook/bootstrap-controller", "healthz livez readyz"),
    ("shutdown", "readyz"),
)
ENDPOINTS = ("healthz", "livez", "readyz")
_STORAGE_CHECKS = {"etcd", "etcd-readiness"}


def is_health_path(path: str) -> bool:
    """A path served by `answer` (and open to anonymous clients, as upstream's system:public-info-viewer)."""
    root = path.lstrip("/").split("/", 1)[0]
    return root in ENDPOINTS


def answer(path: str, query: MultiMapping[str], storage_error: Callable[[], str | None]) -> web.Response:
    """The answer to a GET of a health path: "ok", the verbose listing, or 404/500."""
    endpoint, slash, check = path.lstrip("/").partition("/")
    names = [name for name, where in _CHECKS if endpoint in where.split()]
    failure = storage_error()

    def failed(name: str) -> bool:
        return failure is not None and name in _STORAGE_CHECKS

    if slash:
        if check not in names:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        if failed(check):
            return _text(500, f"internal server error: {failure}\n")
        return _text(200, "ok")
    excluded = {e for value in query.getall("exclude", []) for e in value.split(",") if e}
    lines: list[str] = []
    failing: list[str] = []
    for name in names:
        if name in excluded:
            excluded.discard(name)
            lines.append(f"[+]{name} excluded: ok")
        elif failed(name):
            lines.append(f"[-]{name} failed: reason withheld")
            failing.append(name)
        else:
            lines.append(f"[+]{name} ok")
    if excluded:
        quoted = ",".join(f'"{e}"' for e in sorted(excluded))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}")
    listing = "".join(line + "\n" for line in lines)
    if failing:
        return _text(500, f"{listing}{endpoint} check failed\n")
    if "verbose" not in query:
        return _text(200, "ok")
    return _text(200, f"{listing}{endpoint} check passed\n")


def _text(status: int, body: str) -> web.Response:
    return web.Response(
        status=status,
        text=body,
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )
