"""Deterministic container logs: startup lines when the container starts, then one line every
`interval` seconds while it runs (nginx-like for nginx images, a generic app otherwise)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

_NGINX_STARTUP = (
    "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
    "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
    "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
    "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf",
    "/docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
    "/docker-entrypoint.sh: Configuration complete; ready for start up",
)
_PATHS = ("/", "/healthz", "/index.html", "/api/v1/items", "/static/app.js", "/favicon.ico")
_AGENTS = ("kube-probe/1.32", "curl/8.5.0", "Mozilla/5.0", "Go-http-client/1.1")


@dataclass(frozen=True)
class LogSource:
    """One container's log: who it is and when it ran."""

    namespace: str
    pod: str
    container: str
    image: str
    pod_ip: str
    started: float
    finished: float | None  # None while running
    interval: float

    @property
    def nginx(self) -> bool:
        return "nginx" in self.image.rsplit("/", 1)[-1]

    def _seed(self, i: int) -> int:
        h = hashlib.blake2b(f"{self.namespace}/{self.pod}/{self.container}/{i}".encode(), digest_size=8)
        return int.from_bytes(h.digest(), "big")

    @cached_property
    def startup_lines(self) -> list[str]:
        return self.startup()

    def startup(self) -> list[str]:
        t = _nginx_time(self.started)
        if self.nginx:
            version = self.image.rsplit(":", 1)[-1] if ":" in self.image.rsplit("/", 1)[-1] else "1.27.3"
            version = version if version[:1].isdigit() else "1.27.3"
            return [
                *_NGINX_STARTUP,
                f'{t} [notice] 1#1: using the "epoll" event method',
                f"{t} [notice] 1#1: nginx/{version}",
                f"{t} [notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14)",
                f"{t} [notice] 1#1: OS: Linux 6.8.0-hostsim",
                f"{t} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
                f"{t} [notice] 1#1: start worker processes",
                f"{t} [notice] 1#1: start worker process 29",
            ]
        iso = _iso(self.started)
        return [
            f"{iso} INFO starting {self.container} (image {self.image})",
            f"{iso} INFO pod {self.namespace}/{self.pod} ip {self.pod_ip}",
            f"{iso} INFO listening on {self.pod_ip}:8080",
            f"{iso} INFO ready",
        ]

    def periodic(self, n: int) -> str:
        """Line n (1-based) of the running phase, at started + n * interval."""
        t = self.started + n * self.interval
        seed = self._seed(n)
        if self.nginx:
            client = f"10.244.{seed % 250}.{(seed >> 8) % 250 + 1}"
            path = _PATHS[(seed >> 16) % len(_PATHS)]
            agent = _AGENTS[(seed >> 24) % len(_AGENTS)]
            size = 615 + (seed >> 32) % 4000
            stamp = datetime.fromtimestamp(t, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
            return f'{client} - - [{stamp}] "GET {path} HTTP/1.1" 200 {size} "-" "{agent}" "-"'
        return f"{_iso(t)} INFO tick seq={n} requests={seed % 1000} latency_ms={(seed >> 10) % 250}"

    def count(self, until: float) -> int:
        """How many lines were logged up to `until` (startup, periodic, the exit line)."""
        end = until if self.finished is None else min(until, self.finished)
        if end < self.started:
            return 0
        n = len(self.startup_lines) + self.count_periodic(end)
        if self.finished is not None and until >= self.finished:
            n += 1
        return n

    def line(self, i: int) -> tuple[float, str]:
        """Line i (0-based): (timestamp, text)."""
        startup = self.startup_lines
        if i < len(startup):
            return self.started + i * 1e-6, startup[i]
        n = i - len(startup) + 1
        t = self.started + n * self.interval
        if self.finished is not None and (self.interval <= 0 or t > self.finished + 1e-9):
            return self.finished, self.exit_line()
        return t, self.periodic(n)

    def first_since(self, since: float, total: int) -> int:
        """The index of the first of `total` lines logged at or after `since`."""
        lo, hi = 0, total
        while lo < hi:
            mid = (lo + hi) // 2
            if self.line(mid)[0] < since:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def lines(self, until: float) -> list[tuple[float, str]]:
        """Every (timestamp, line) logged up to `until`."""
        return [self.line(i) for i in range(self.count(until))]

    def count_periodic(self, end: float) -> int:
        if self.interval <= 0 or end < self.started:
            return 0
        return math.floor((end - self.started) / self.interval + 1e-9)

    def exit_line(self) -> str:
        if self.nginx:
            return f"{_nginx_time(self.finished or self.started)} [notice] 1#1: exit"
        return f"{_iso(self.finished or self.started)} INFO done, exiting with code 0"


def _nginx_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y/%m/%d %H:%M:%S")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rfc3339_nano(t: float) -> str:
    """Go's time.RFC3339Nano (trailing zeros of the fraction dropped), as `timestamps=true` prints."""
    dt = datetime.fromtimestamp(t, UTC)
    ns = round((t - math.floor(t)) * 1e9)
    if ns >= 1_000_000_000:
        ns = 999_999_999
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"
